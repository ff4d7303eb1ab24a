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
    pub vlm_api_key: Option<String>,
    /// OpenAI-compatible endpoint for chat (defaults to the vlm endpoint).
    pub llm_url: Option<String>,
    /// Model name sent to the chat endpoint.
    pub llm_model: Option<String>,
    /// Bearer key for the chat endpoint.
    pub llm_api_key: Option<String>,
    /// Seconds before an LLM/VLM request is abandoned.
    pub llm_timeout_secs: u64,
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
