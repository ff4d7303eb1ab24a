//! The LLM/VLM side of ocrchat: everything that talks to an external,
//! operator-configured model endpoint.
//!
//! - [`LlmClient`] speaks the OpenAI chat-completions protocol (served by
//!   OpenAI, vLLM, llama.cpp's server, Ollama …) to exactly one configured base
//!   URL: bounded in time, size and concurrency, no retries, no redirects.
//! - [`LlmClient::transcribe_page`] (`tier=vlm`) sends one page image and gets
//!   Markdown back, with a prompt chosen by language and tool.
//! - [`LlmClient::answer`] is grounded chat: lexical retrieval over the job's
//!   page texts, a JSON answer with quotes, and server-side verification that
//!   every quote occurs verbatim in the page it cites.
//! - [`tools`] is the tool catalogue (`GET /api/v1/tools/`) and the validation
//!   of the `tier` / `language` / `tool` / `translate_to` form fields.
//!
//! Nothing here is used unless the operator configured an endpoint: the
//! server holds an `Option<LlmClient>` per role (VLM, chat), built from
//! [`LlmConfig`].

mod chat;
mod markdown;
mod openai;
pub mod tools;
mod vlm;

use std::fmt;

use serde::Deserialize;

pub use chat::{ChatAnswer, ChatRole, ChatTurn, Citation, NOT_IN_DOCUMENT};
pub use markdown::markdown_to_text;
pub use openai::LlmClient;
pub use tools::{Capabilities, JobOptions, Tier, Tool, ToolError, ToolSpec};
pub use vlm::{PageRequest, PageTranscript};

/// Where one model endpoint is and how far ocrchat trusts it.
///
/// Loaded by the server from `ocrchat.toml` (`[vlm]` / `[llm]` tables) or the
/// environment (see [`LlmConfig::from_env`]). The VLM (page transcription)
/// and the chat LLM may be different endpoints and models.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, up to and including the version
    /// segment, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// Model name sent in every request.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (local servers need none).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Whole-request bound, waiting for a free slot included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Size of document text one chat request may carry, counted in UTF-8
    /// bytes (which tracks tokens across scripts better than characters: a
    /// CJK character is 3 bytes and ~1–2 tokens, English ~4 bytes a token);
    /// longer documents are cut down to their most relevant passages.
    #[serde(default = "default_max_context_chars")]
    pub max_context_chars: usize,
    /// `max_tokens` of each request: bounds cost and answer size.
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u32,
    /// Requests in flight to this endpoint at once; the rest wait (within
    /// `timeout_secs`) so a burst of jobs cannot flood a small GPU server.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

fn default_timeout_secs() -> u64 {
    // A VLM reading a dense A4 page on a modest GPU takes tens of seconds.
    120
}
fn default_max_context_chars() -> usize {
    // ~6k tokens of English: fits the smallest common context windows (8k)
    // with room for instructions, history and the answer.
    24_000
}
fn default_max_output_tokens() -> u32 {
    // A dense page transcribes to ~1.5k tokens; translation can double it.
    4096
}
fn default_max_concurrent() -> usize {
    4
}

impl LlmConfig {
    /// A configuration with the defaults for everything but the endpoint.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        LlmConfig {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout_secs: default_timeout_secs(),
            max_context_chars: default_max_context_chars(),
            max_output_tokens: default_max_output_tokens(),
            max_concurrent: default_max_concurrent(),
        }
    }

    /// Reads `{prefix}_URL`, `{prefix}_MODEL`, `{prefix}_API_KEY` and the
    /// optional `{prefix}_TIMEOUT_SECS`, `{prefix}_MAX_CONTEXT_CHARS`,
    /// `{prefix}_MAX_CONCURRENT` (prefix `OCRCHAT_VLM` or `OCRCHAT_LLM`).
    /// `Ok(None)` when `{prefix}_URL` is unset or empty: no endpoint.
    pub fn from_env(prefix: &str) -> Result<Option<Self>, LlmError> {
        Self::from_lookup(prefix, |k| std::env::var(k).ok())
    }

    /// [`LlmConfig::from_env`] over any key lookup (tests, config layering).
    pub fn from_lookup(prefix: &str, get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, LlmError> {
        let var =
            |suffix: &str| get(&format!("{prefix}_{suffix}")).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let Some(url) = var("URL") else {
            return Ok(None);
        };
        let model = var("MODEL")
            .ok_or_else(|| LlmError::InvalidConfig(format!("{prefix}_URL is set but {prefix}_MODEL is not")))?;
        let mut config = LlmConfig::new(url, model);
        config.api_key = var("API_KEY");
        fn num<T: std::str::FromStr>(key: String, v: Option<String>, into: &mut T) -> Result<(), LlmError> {
            if let Some(v) = v {
                *into = v.parse().map_err(|_| LlmError::InvalidConfig(format!("{key} must be a number, got {v:?}")))?;
            }
            Ok(())
        }
        num(format!("{prefix}_TIMEOUT_SECS"), var("TIMEOUT_SECS"), &mut config.timeout_secs)?;
        num(format!("{prefix}_MAX_CONTEXT_CHARS"), var("MAX_CONTEXT_CHARS"), &mut config.max_context_chars)?;
        num(format!("{prefix}_MAX_CONCURRENT"), var("MAX_CONCURRENT"), &mut config.max_concurrent)?;
        Ok(Some(config))
    }
}

/// Keeps the API key out of logs and panics.
impl fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<hidden>"))
            .field("timeout_secs", &self.timeout_secs)
            .field("max_context_chars", &self.max_context_chars)
            .field("max_output_tokens", &self.max_output_tokens)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

/// Why a model request failed. Messages are safe to log; [`LlmError::code`]
/// gives the server a stable code for its API error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// No endpoint is configured for this role (`"vlm"` or `"chat"`).
    #[error("no {0} model endpoint is configured on this server")]
    NotConfigured(&'static str),
    /// The configuration cannot work (bad URL, missing model, …).
    #[error("invalid model endpoint configuration: {0}")]
    InvalidConfig(String),
    /// No complete answer within `timeout_secs`.
    #[error("the model endpoint did not answer within {secs} s")]
    Timeout {
        /// The configured bound.
        secs: u64,
    },
    /// The endpoint answered with a non-success HTTP status.
    #[error("the model endpoint answered HTTP {status}: {detail}")]
    Upstream {
        /// HTTP status code from the endpoint.
        status: u16,
        /// Start of the endpoint's error body (for logs, not for API clients).
        detail: String,
    },
    /// Connection refused, DNS failure, TLS failure, reset …
    #[error("could not reach the model endpoint: {0}")]
    Unreachable(String),
    /// The endpoint answered 2xx but not with a usable chat completion.
    #[error("the model endpoint's answer is malformed: {0}")]
    Malformed(String),
    /// The page image is not a PNG or JPEG, or is too large to send.
    #[error("page image not sendable to the model: {0}")]
    BadImage(String),
}

impl LlmError {
    /// Stable code for the API error body.
    pub fn code(&self) -> &'static str {
        match self {
            LlmError::NotConfigured(_) => "llm_not_configured",
            LlmError::InvalidConfig(_) => "llm_misconfigured",
            LlmError::Timeout { .. } => "llm_timeout",
            LlmError::Upstream { .. } => "llm_upstream_error",
            LlmError::Unreachable(_) => "llm_unreachable",
            LlmError::Malformed(_) => "llm_bad_response",
            LlmError::BadImage(_) => "llm_bad_image",
        }
    }

    /// The HTTP status the API should answer with when a request fails on
    /// this: the model is the server's upstream, so its failures are 502/504;
    /// a missing endpoint is 503 (the feature is off on this server).
    pub fn http_status(&self) -> u16 {
        match self {
            LlmError::NotConfigured(_) => 503,
            LlmError::InvalidConfig(_) => 500,
            LlmError::Timeout { .. } => 504,
            LlmError::Upstream { .. } | LlmError::Unreachable(_) | LlmError::Malformed(_) => 502,
            LlmError::BadImage(_) => 400,
        }
    }

    /// Whether trying the same request later may succeed (a job queue may
    /// requeue these; a synchronous API call answers 502/503/504).
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Timeout { .. } | LlmError::Unreachable(_) => true,
            LlmError::Upstream { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_env_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(LlmConfig::from_lookup("OCRCHAT_VLM", env(&[])).unwrap(), None);
        assert_eq!(LlmConfig::from_lookup("OCRCHAT_VLM", env(&[("OCRCHAT_VLM_URL", " ")])).unwrap(), None);
        assert!(LlmConfig::from_lookup("OCRCHAT_VLM", env(&[("OCRCHAT_VLM_URL", "http://x/v1")])).is_err());
        let c = LlmConfig::from_lookup(
            "OCRCHAT_LLM",
            env(&[
                ("OCRCHAT_LLM_URL", "http://127.0.0.1:1/v1"),
                ("OCRCHAT_LLM_MODEL", "m"),
                ("OCRCHAT_LLM_API_KEY", "sk-secret"),
                ("OCRCHAT_LLM_TIMEOUT_SECS", "7"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!((c.model.as_str(), c.api_key.as_deref(), c.timeout_secs), ("m", Some("sk-secret"), 7));
        assert!(!format!("{c:?}").contains("sk-secret"), "Debug must hide the key");
        let bad =
            LlmConfig::from_lookup("P", env(&[("P_URL", "http://h/v1"), ("P_MODEL", "m"), ("P_TIMEOUT_SECS", "soon")]));
        assert!(matches!(bad, Err(LlmError::InvalidConfig(_))));
    }

    #[test]
    fn config_deserializes_with_defaults() {
        let c: LlmConfig = serde_json::from_str(r#"{"base_url":"http://h/v1","model":"m"}"#).unwrap();
        assert_eq!(c, LlmConfig::new("http://h/v1", "m"));
    }
}
