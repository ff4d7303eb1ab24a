//! The one place where failures become HTTP: every handler returns
//! [`ApiError`], whose `IntoResponse` writes the spec's body
//! `{"error": code, "message": …}` (plus `used`/`cap` on 402 and
//! `Retry-After` on 429).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ocrchat_engine::EngineError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::llm::{LlmError, ToolError};
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
    #[error("{0}")]
    Unavailable(String),
    /// 500: our fault; details go to the log, not the client.
    #[error("internal error: {0}")]
    Internal(String),
}

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
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal server error".to_string()
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // A database that is down is a 503 the client may retry, not a bug.
        if e.is_unavailable() {
            Self::Unavailable(format!("database unavailable: {e}"))
        } else {
            Self::Internal(e.to_string())
        }
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
            _ => return Self::Internal(e.to_string()),
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<ToolError> for ApiError {
    fn from(e: ToolError) -> Self {
        let code = match &e {
            ToolError::VlmUnavailable => {
                return Self::NotConfigured {
                    message: format!(
                        "{e}: set vlm_url and vlm_model (or OCRCHAT_VLM_URL and OCRCHAT_VLM_MODEL) to an \
                         OpenAI-compatible endpoint serving a vision model (vLLM, llama.cpp's server, Ollama, a \
                         hosted API), or use tier=cpu"
                    ),
                };
            }
            ToolError::UnknownTier(_) => "invalid_tier",
            ToolError::UnknownTool { .. } => "unknown_tool",
            ToolError::ToolNotOnTier { .. } => "tool_needs_other_tier",
            ToolError::MissingTranslateTo => "missing_translate_to",
            ToolError::UnexpectedTranslateTo => "invalid_field",
            ToolError::BadTranslateTo(_) | ToolError::BadLanguage { .. } => "unsupported_language",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<LlmError> for ApiError {
    fn from(e: LlmError) -> Self {
        match e {
            LlmError::NotConfigured(_) => Self::NotConfigured { message: e.to_string() },
            LlmError::InvalidConfig(_) => Self::Internal(e.to_string()),
            LlmError::BadImage(_) => Self::bad_request("undecodable_file", e.to_string()),
            LlmError::Timeout { .. } => Self::Upstream { status: StatusCode::GATEWAY_TIMEOUT, message: e.to_string() },
            _ => Self::Upstream { status: StatusCode::BAD_GATEWAY, message: e.to_string() },
        }
    }
}
