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
//! - [`tools`] is the tool catalogue (`GET /api/v1/tools/`), the tiers and
//!   the languages a model can be asked for (the API checks submissions
//!   against them in `api::options`).
//! - [`page_from_markdown`] is the one parser of the Markdown models write:
//!   it becomes the page's typed blocks.
//!
//! Nothing here is used unless the operator configured an endpoint: the
//! server holds an `Option<LlmClient>` per role (VLM, chat), built from the
//! [`LlmConfig`]s its configuration yields.

mod chat;
mod markdown;
mod openai;
pub mod tools;
mod vlm;

pub use crate::config::Secret;
pub use chat::{ChatAnswer, ChatRole, ChatTurn, Citation, NOT_IN_DOCUMENT};
pub use markdown::{markdown_to_text, page_from_markdown};
pub use openai::LlmClient;
pub use tools::{Capabilities, Tier, Tool, ToolSpec};
pub use vlm::{PageRequest, PageTranscript};

/// Where one model endpoint is and how far ocrchat trusts it.
///
/// Built by the server from its [`Config`](crate::config::Config)
/// (`vlm_*` / `llm_*` keys, see [`Config::vlm_endpoint`](crate::config::Config::vlm_endpoint)),
/// the one source of these settings. The VLM (page transcription) and the
/// chat LLM may be different endpoints and models. `Debug` hides the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, up to and including the version
    /// segment, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended.
    pub base_url: String,
    /// Model name sent in every request.
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set (local servers need none).
    pub api_key: Option<Secret>,
    /// Whole-request bound, waiting for a free slot included.
    pub timeout_secs: u64,
    /// Size of document text one chat request may carry, counted in UTF-8
    /// bytes (which tracks tokens across scripts better than characters: a
    /// CJK character is 3 bytes and ~1–2 tokens, English ~4 bytes a token);
    /// longer documents are cut down to their most relevant passages.
    pub max_context_chars: usize,
    /// `max_tokens` of each request: bounds cost and answer size.
    pub max_output_tokens: u32,
    /// Requests in flight to this endpoint at once; the rest wait (within
    /// `timeout_secs`) so a burst of jobs cannot flood a small GPU server.
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
