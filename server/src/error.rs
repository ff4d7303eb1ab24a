//! The one place where failures become HTTP: every handler returns
//! [`ApiError`], whose `IntoResponse` writes the spec's body
//! `{"error": code, "message": …}` (plus `used`/`cap` on 402 and
//! `Retry-After` on 429).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ocrchat_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::options::OptionError;
use crate::llm::LlmError;
use crate::store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with a stable code.
    #[error("{message}")]
    BadRequest {
        /// Stable machine-readable code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// 401.
    #[error("{message}")]
    Unauthorized {
        /// `invalid_token` or `token_required`.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// 402: the job would exceed the balance.
    #[error("out of pages: {used} of {cap} used")]
    PaymentRequired {
        /// Pages used in the period.
        used: i64,
        /// Pages allowed in the period.
        cap: i64,
        /// Which balance ran out.
        message: String,
    },
    /// 404 (also for other people's jobs).
    #[error("not found")]
    NotFound,
    /// 404 for a path under `/api/` that no route serves.
    #[error("no such API endpoint; see /openapi.json")]
    NoRoute,
    /// 409: the job is not done yet.
    #[error("job is {status}")]
    NotReady {
        /// Current status.
        status: &'static str,
    },
    /// 413: body over the upload limit.
    #[error("upload larger than {limit} bytes")]
    PayloadTooLarge {
        /// Limit in bytes.
        limit: u64,
    },
    /// 429 with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        /// Human text.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 501: the operator has not configured this feature.
    #[error("{message}")]
    NotConfigured {
        /// Human text.
        message: String,
    },
    /// 502/504: the configured upstream (LLM/VLM) failed.
    #[error("{message}")]
    Upstream {
        /// 502 or 504.
        status: StatusCode,
        /// Human text.
        message: String,
    },
    /// 503: not ready to serve.
    #[error("{message}")]
    Unavailable {
        /// Human text.
        message: String,
        /// What failed (logged, not shown).
        #[source]
        source: Option<BoxError>,
    },
    /// 500: our fault; the cause goes to the log, not the client.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// Any error kept as the source of an [`ApiError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `unsupported_type`, `quota_exceeded`.
    pub error: &'static str,
    /// Short human text.
    pub message: String,
    /// Pages used (402 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used: Option<i64>,
    /// Pages allowed (402 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<i64>,
}

impl ApiError {
    /// A 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// A 500 caused by `source` (an error, or a message for an invariant
    /// that does not hold).
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    /// HTTP status and stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized { code, .. } => (StatusCode::UNAUTHORIZED, code),
            Self::PaymentRequired { .. } => (StatusCode::PAYMENT_REQUIRED, "quota_exceeded"),
            Self::NotFound | Self::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            Self::NotReady { .. } => (StatusCode::CONFLICT, "not_ready"),
            Self::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::NotConfigured { .. } => (StatusCode::NOT_IMPLEMENTED, "not_configured"),
            Self::Upstream { status, .. } => (*status, "upstream_error"),
            Self::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(source) => {
                tracing::error!(error = %chain(source.as_ref()), "internal error");
                "internal server error".to_string()
            }
            Self::Unavailable { message, source: Some(source) } => {
                tracing::warn!(error = %chain(source.as_ref()), "{message}");
                message.clone()
            }
            Self::PaymentRequired { message, .. } => message.clone(),
            Self::NotFound => "job not found".into(),
            Self::NotReady { status } => format!("the job is {status}; results are available once it is done"),
            other => other.to_string(),
        };
        let (used, cap) = match self {
            Self::PaymentRequired { used, cap, .. } => (Some(used), Some(cap)),
            _ => (None, None),
        };
        let mut response = (status, axum::Json(ErrorBody { error: code, message, used, cap })).into_response();
        if let Self::TooManyRequests { retry_after, .. } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

/// An error with its causes, for the log: `a: b: c`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // A database that is down is a 503 the client may retry, not a bug.
        if e.is_unavailable() {
            Self::Unavailable { message: "database unavailable".into(), source: Some(Box::new(e)) }
        } else {
            Self::internal(e)
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::internal(e)
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        Self::internal(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}

/// What an API client is told about a file the engine refused: short and
/// stable, with no decoder internals (those go to the log).
pub fn file_error_message(e: &EngineError) -> String {
    match e {
        EngineError::Empty => "the file is empty".into(),
        EngineError::UnsupportedFormat(_) => {
            "unsupported file type: send PNG, JPEG, WEBP, GIF, BMP, TIFF or PDF".into()
        }
        EngineError::Decode { format, .. } => format!("the {format} file is damaged or truncated and cannot be read"),
        other => other.to_string(),
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::Empty => "empty_file",
            EngineError::UnsupportedFormat(_) => "unsupported_type",
            EngineError::Decode { .. } => "undecodable_file",
            EngineError::TooLarge { .. } => "image_too_large",
            EngineError::TooManyPages { .. } => "too_many_pages",
            EngineError::PasswordProtected => "password_protected",
            EngineError::UnsupportedLanguage { .. } => "unsupported_language",
            EngineError::LanguageNotInstalled { .. } => "language_not_installed",
            _ => return Self::internal(e),
        };
        tracing::info!(code, error = %e, "file refused");
        Self::bad_request(code, file_error_message(&e))
    }
}

impl From<OptionError> for ApiError {
    fn from(e: OptionError) -> Self {
        let code = match &e {
            OptionError::VlmUnavailable => {
                return Self::NotConfigured {
                    message: format!(
                        "{e}: set vlm_url and vlm_model (or OCRCHAT_VLM_URL and OCRCHAT_VLM_MODEL) to an \
                         OpenAI-compatible endpoint serving a vision model (vLLM, llama.cpp's server, Ollama, a \
                         hosted API), or use tier=cpu"
                    ),
                };
            }
            OptionError::UnknownTier(_) => "invalid_tier",
            OptionError::UnknownTool { .. } => "unknown_tool",
            OptionError::ToolNotOnTier { .. } => "tool_needs_other_tier",
            OptionError::MissingTranslateTo => "missing_translate_to",
            OptionError::UnexpectedTranslateTo => "invalid_field",
            OptionError::BadTranslateTo(_) | OptionError::BadLanguage { .. } => "unsupported_language",
            OptionError::LanguageNotInstalled { .. } => "language_not_installed",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<LlmError> for ApiError {
    fn from(e: LlmError) -> Self {
        // The upstream's own words (status bodies, transport errors) go to
        // the log; the client learns which side failed.
        tracing::warn!(error = %e, "model request failed");
        match e {
            LlmError::NotConfigured(_) => Self::NotConfigured { message: e.to_string() },
            LlmError::InvalidConfig(_) => Self::internal(e),
            LlmError::BadImage(_) => {
                Self::bad_request("undecodable_file", "the page image cannot be sent to the model")
            }
            LlmError::Timeout { .. } => Self::Upstream { status: StatusCode::GATEWAY_TIMEOUT, message: e.to_string() },
            _ => Self::Upstream {
                status: StatusCode::BAD_GATEWAY,
                message: "the configured model failed or answered unusably; retry later".into(),
            },
        }
    }
}
