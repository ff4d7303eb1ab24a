//! Server configuration: built-in defaults, then `ocrchat.toml` (or the file
//! named by `--config` / `OCRCHAT_CONFIG`), then `OCRCHAT_*` environment
//! variables, then command-line flags. Keys are flat and the environment
//! variable of key `anon_daily_pages` is `OCRCHAT_ANON_DAILY_PAGES`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::blobs::BlobBackend;

/// Everything `ocrchat serve` can be told.
use crate::llm::LlmConfig;

/// A credential (API key, token): kept out of every `Debug` output, so a
/// logged or panicking `Config` never shows it. Serialises as the plain
/// string (the configuration layers need the value).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything `ocrchat serve` can be told. `Debug` shows no credential
/// (they are [`Secret`]s).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Listen address (`127.0.0.1:0` picks a free port).
    pub addr: String,
    /// Database, uploads and results live here.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`; unset: the SQLite file in `data_dir`.
    /// Several servers may share one PostgreSQL database (scale-out).
    pub database_url: Option<String>,
    /// Where uploads and result PDFs live: `local` (files in `data_dir`) or `database`
    /// (PostgreSQL only: nodes then share nothing but the database).
    pub blob_store: BlobBackend,
    /// OCR models (`make models` puts them in `models/`).
    pub models_dir: Option<PathBuf>,
    /// Built web app served at `/` (Trunk writes `dist/`).
    pub web_dir: Option<PathBuf>,
    /// cpu-tier model size: `small` (accurate) or `tiny` (fast).
    pub model: String,
    /// Inference runtime: `auto` (onnxruntime when installed, else rten), `rten` or `onnxruntime`.
    pub runtime: String,
    /// small on onnxruntime: read lines with the int8 recogniser `make models` makes.
    pub int8: bool,
    /// Pages recognised at once (default: the machine's cores).
    pub workers: usize,
    /// Largest accepted upload body, bytes.
    pub max_upload_bytes: u64,
    /// Jobs with at most this many pages are processed before the POST returns.
    pub inline_max_pages: i64,
    /// Pixels per page above which a file is refused.
    pub max_page_pixels: u64,
    /// Anonymous callers: pages per client IP per day.
    pub anon_daily_pages: i64,
    /// Free accounts: pages per calendar month.
    pub free_monthly_pages: i64,
    /// Largest file, in pages, per plan.
    pub anon_max_pages_per_file: i64,
    /// Largest file, in pages, for free accounts.
    pub free_max_pages_per_file: i64,
    /// Largest file, in pages, for paid accounts.
    pub paid_max_pages_per_file: i64,
    /// Credits per page on the cpu tier.
    pub cpu_page_cost: i64,
    /// Credits per page on the vlm tier.
    pub vlm_page_cost: i64,
    /// Requests being processed plus unfinished jobs allowed per caller; more → 429.
    pub max_inflight_per_caller: i64,
    /// OCR submissions being handled at once across all callers; more → 429.
    pub max_inflight_total: usize,
    /// Finished jobs (results, exports, chats) are deleted after this many hours.
    pub retention_hours: i64,
    /// A `processing` job whose heartbeat is older than this is requeued.
    pub stale_after_secs: i64,
    /// Claims before a job that keeps getting interrupted is failed.
    pub max_attempts: i64,
    /// How often the sweeper requeues stale jobs and deletes expired ones.
    pub sweep_interval_secs: u64,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// OpenAI-compatible endpoint for the vlm tier (unset: vlm not configured).
    pub vlm_url: Option<String>,
    /// Model name sent to the vlm endpoint.
    pub vlm_model: Option<String>,
    /// Bearer key for the vlm endpoint.
    pub vlm_api_key: Option<Secret>,
    /// OpenAI-compatible endpoint for chat (defaults to the vlm endpoint).
    pub llm_url: Option<String>,
    /// Model name sent to the chat endpoint.
    pub llm_model: Option<String>,
    /// Bearer key for the chat endpoint.
    pub llm_api_key: Option<Secret>,
    /// Seconds before an LLM/VLM request is abandoned.
    pub llm_timeout_secs: u64,
    /// Cap on the tokens one LLM/VLM answer may generate (unset: 4096); a small
    /// local model on a CPU is bounded in time by this.
    pub llm_max_output_tokens: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            data_dir: default_data_dir(),
            database_url: None,
            blob_store: BlobBackend::Local,
            models_dir: None,
            web_dir: None,
            model: "small".into(),
            runtime: "auto".into(),
            int8: false,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_upload_bytes: 50 * 1024 * 1024,
            inline_max_pages: 5,
            max_page_pixels: ocrchat_engine::DecodeLimits::default().max_pixels,
            anon_daily_pages: 20,
            free_monthly_pages: 200,
            anon_max_pages_per_file: 20,
            free_max_pages_per_file: 20,
            paid_max_pages_per_file: 500,
            cpu_page_cost: 1,
            vlm_page_cost: 5,
            max_inflight_per_caller: 8,
            max_inflight_total: 64,
            retention_hours: 24,
            stale_after_secs: 120,
            max_attempts: 3,
            sweep_interval_secs: 30,
            trust_forwarded_for: false,
            vlm_url: None,
            vlm_model: None,
            vlm_api_key: None,
            llm_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_secs: 120,
            llm_max_output_tokens: None,
        }
    }
}

/// `$XDG_DATA_HOME/ocrchat` (or the platform's equivalent), else `./ocrchat-data`.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from("ocrchat-data"), |d| d.join("ocrchat"))
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--models-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
    /// `--web-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<PathBuf>,
}

impl Config {
    /// Layers defaults, the config file, the environment and `overrides`.
    /// `file`: explicit path (must exist); otherwise `./ocrchat.toml` when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("ocrchat.toml")),
        }
        figment
            .merge(Env::prefixed("OCRCHAT_").ignore(&["config", "log"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }
}

/// A `*_url` is set without its `*_model`: the endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{role}_url is set but {role}_model is not")]
pub struct MissingModel {
    /// `vlm` or `llm`.
    pub role: &'static str,
}

impl Config {
    /// The vision model endpoint (`vlm_url`, `vlm_model`, `vlm_api_key`);
    /// `None` when `vlm_url` is unset or blank (the vlm tier is off).
    pub fn vlm_endpoint(&self) -> Result<Option<LlmConfig>, MissingModel> {
        self.endpoint("vlm", self.vlm_url.as_ref(), self.vlm_model.as_ref(), self.vlm_api_key.as_ref())
    }

    /// The chat model endpoint (`llm_*`), falling back key by key to the
    /// vlm endpoint's (a VLM also chats) when no separate one is set.
    pub fn chat_endpoint(&self) -> Result<Option<LlmConfig>, MissingModel> {
        self.endpoint(
            "llm",
            self.llm_url.as_ref().or(self.vlm_url.as_ref()),
            self.llm_model.as_ref().or(self.vlm_model.as_ref()),
            self.llm_api_key.as_ref().or(self.vlm_api_key.as_ref()),
        )
    }

    fn endpoint(
        &self,
        role: &'static str,
        url: Option<&String>,
        model: Option<&String>,
        key: Option<&Secret>,
    ) -> Result<Option<LlmConfig>, MissingModel> {
        let Some(url) = url.map(|u| u.trim()).filter(|u| !u.is_empty()) else { return Ok(None) };
        let model = model.map(|m| m.trim()).filter(|m| !m.is_empty()).ok_or(MissingModel { role })?;
        let mut llm = LlmConfig::new(url, model);
        llm.api_key = key.cloned();
        llm.timeout_secs = self.llm_timeout_secs;
        if let Some(n) = self.llm_max_output_tokens {
            llm.max_output_tokens = n;
        }
        Ok(Some(llm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_is_valid_and_matches_defaults() {
        let example: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(include_str!("../../ocrchat.example.toml")))
            .extract()
            .expect("ocrchat.example.toml parses");
        let defaults = Config::default();
        assert_eq!(example.anon_daily_pages, defaults.anon_daily_pages);
        assert_eq!(example.max_upload_bytes, defaults.max_upload_bytes);
        assert_eq!(example.vlm_page_cost, defaults.vlm_page_cost);
        assert_eq!(example.retention_hours, defaults.retention_hours);
    }

    #[test]
    fn endpoints_come_from_the_config_keys_with_chat_falling_back_to_vlm() {
        let none = Config::default();
        assert_eq!((none.vlm_endpoint().unwrap(), none.chat_endpoint().unwrap()), (None, None));
        let vlm_only = Config {
            vlm_url: Some(" http://127.0.0.1:9/v1 ".into()),
            vlm_model: Some("qwen".into()),
            vlm_api_key: Some(Secret::new("k")),
            llm_timeout_secs: 7,
            ..Config::default()
        };
        let vlm = vlm_only.vlm_endpoint().unwrap().unwrap();
        assert_eq!((vlm.base_url.as_str(), vlm.model.as_str(), vlm.timeout_secs), ("http://127.0.0.1:9/v1", "qwen", 7));
        assert_eq!(vlm.api_key, Some(Secret::new("k")));
        assert_eq!(vlm_only.chat_endpoint().unwrap(), Some(vlm), "chat falls back to the vlm endpoint");
        let both = Config { llm_url: Some("http://h/v1".into()), llm_model: Some("chat".into()), ..vlm_only.clone() };
        let chat = both.chat_endpoint().unwrap().unwrap();
        assert_eq!((chat.base_url.as_str(), chat.model.as_str()), ("http://h/v1", "chat"));
        let blank = Config { vlm_url: Some("  ".into()), ..Config::default() };
        assert_eq!(blank.vlm_endpoint().unwrap(), None, "a blank url is no endpoint");
        let no_model = Config { llm_url: Some("http://h/v1".into()), ..Config::default() };
        assert_eq!(no_model.chat_endpoint().unwrap_err().to_string(), "llm_url is set but llm_model is not");
    }

    #[test]
    #[allow(clippy::result_large_err, reason = "figment::Jail fixes the closure's error type (figment::Error)")]
    fn debug_output_redacts_credentials() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("OCRCHAT_VLM_API_KEY", "sk-vlm-very-secret");
            jail.set_env("OCRCHAT_LLM_API_KEY", "sk-llm-very-secret");
            let config = Config::load(None, &Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(config.vlm_api_key.as_ref().map(Secret::expose), Some("sk-vlm-very-secret"), "value kept");
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains("very-secret"), "a key leaked into Debug: {shown}");
            assert!(shown.contains("vlm_api_key: Some(<redacted>)"), "{shown}");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err, reason = "figment::Jail fixes the closure's error type (figment::Error)")]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("ocrchat.toml", "anon_daily_pages = 7\nfree_monthly_pages = 9\naddr = \"0.0.0.0:1\"")?;
            jail.set_env("OCRCHAT_FREE_MONTHLY_PAGES", "11");
            let overrides = Overrides { addr: Some("127.0.0.1:9".into()), ..Overrides::default() };
            let config = Config::load(None, &overrides).map_err(|e| e.to_string())?;
            assert_eq!(config.anon_daily_pages, 7, "file beats default");
            assert_eq!(config.free_monthly_pages, 11, "env beats file");
            assert_eq!(config.addr, "127.0.0.1:9", "flag beats file");
            assert_eq!(config.paid_max_pages_per_file, 500, "default kept");
            Ok(())
        });
    }
}
