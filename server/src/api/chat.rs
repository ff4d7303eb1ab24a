//! `POST /api/v1/chat/{uuid}/` and `GET /api/v1/chat/{uuid}/history/`.

use axum::Json;
use axum::extract::{Path, State};
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ocr::owned_job;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::JobStatus;

/// Request body of a chat message.
#[derive(Deserialize, ToSchema)]
pub struct ChatRequest {
    /// The question.
    pub message: String,
    /// Continue this conversation (from a previous answer).
    pub conversation: Option<String>,
}

/// A page citation.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Citation {
    /// 1-based page number.
    pub page: u32,
    /// Text that occurs verbatim in that page's text.
    pub snippet: String,
}

/// One message of a conversation.
#[derive(Serialize, ToSchema)]
pub struct ChatMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
    /// Pages backing the answer (assistant messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citations: Option<Vec<Citation>>,
    /// Conversation id.
    pub conversation: String,
    /// RFC 3339.
    pub created_at: String,
}

/// Response of a chat message.
#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    /// Conversation id (pass it back to continue).
    pub conversation: String,
    /// The assistant's answer.
    pub message: ChatMessage,
}

/// Response of the history endpoint.
#[derive(Serialize, ToSchema)]
pub struct ChatHistory {
    /// Every message for this job and account, oldest first.
    pub messages: Vec<ChatMessage>,
}

/// Ask a question about a finished job.
#[utoipa::path(post, path = "/api/v1/chat/{uuid}/", tag = "chat",
    params(("uuid" = String, Path, description = "Job id")),
    request_body = ChatRequest,
    responses(
        (status = 200, body = ChatReply),
        (status = 400, description = "Empty message", body = ErrorBody),
        (status = 401, description = "No account token", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Job not done", body = ErrorBody),
        (status = 501, description = "No LLM configured", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_token" = [])))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(uuid): Path<String>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatReply>, ApiError> {
    caller.require_account()?;
    let job = owned_job(&state, &caller, &uuid).await?;
    if job.status != JobStatus::Done {
        return Err(ApiError::NotReady { status: job.status.as_str() });
    }
    let Json(request) = body.map_err(|e| ApiError::bad_request("invalid_body", format!("expected JSON {{\"message\": …}}: {e}")))?;
    if request.message.trim().is_empty() {
        return Err(ApiError::bad_request("empty_message", "the message is empty"));
    }
    Err(ApiError::NotConfigured {
        message: "chat is not configured on this server (set llm_url / OCRCHAT_LLM_URL to an OpenAI-compatible endpoint)".into(),
    })
}

/// The transcript of a job's conversations for this account.
#[utoipa::path(get, path = "/api/v1/chat/{uuid}/history/", tag = "chat",
    params(("uuid" = String, Path, description = "Job id")),
    responses((status = 200, body = ChatHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = []), ("api_token" = [])))]
pub async fn history(State(state): State<AppState>, caller: Caller, Path(uuid): Path<String>) -> Result<Json<ChatHistory>, ApiError> {
    let account = caller.require_account()?.clone();
    let job = owned_job(&state, &caller, &uuid).await?;
    let records = state.store.chat_history(&job.uuid, account.id).await?;
    let messages = records
        .into_iter()
        .map(|r| ChatMessage {
            role: r.role,
            content: r.content,
            citations: r.citations.and_then(|c| serde_json::from_str(&c).ok()),
            conversation: r.conversation,
            created_at: time::OffsetDateTime::from_unix_timestamp(r.created_at)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default(),
        })
        .collect();
    Ok(Json(ChatHistory { messages }))
}
