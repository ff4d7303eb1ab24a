//! `POST /api/v1/chat/{uuid}/` and `GET /api/v1/chat/{uuid}/history/`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ocr::{JobId, owned_job};
use super::view::{document, rfc3339};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::jobs;
use crate::llm::{ChatRole, ChatTurn, Citation};
use crate::state::AppState;
use crate::store::ChatRecord;
use crate::store::JobStatus;

/// Request body of a chat message.
#[derive(Deserialize, ToSchema)]
pub struct ChatRequest {
    /// The question: at least one non-blank character, at most 4000
    /// characters once trimmed.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub message: String,
    /// Continue this conversation (from a previous answer); `404` if this
    /// job has no such conversation for the caller.
    #[schema(nullable = false)]
    pub conversation: Option<String>,
}

/// One message of a conversation.
#[derive(Serialize, ToSchema)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
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
        (status = 400, description = "Not a JSON body with a message, empty or too long message", body = ErrorBody),
        (status = 401, description = "No account token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such job or conversation (or not the caller's)", body = ErrorBody),
        (status = 409, description = "Job not done", body = ErrorBody),
        (status = 501, description = "No chat model configured on this server", body = ErrorBody),
        (status = 502, description = "The configured model failed or answered unusably", body = ErrorBody),
        (status = 504, description = "The configured model did not answer in time", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_token" = [])))]
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    id: JobId,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatReply>, ApiError> {
    let account_id = caller.require_account()?.id;
    let job = owned_job(&state, &caller, &id).await?;
    if job.status != JobStatus::Done {
        return Err(ApiError::NotReady { status: job.status.as_str() });
    }
    let Json(request) =
        body.map_err(|e| ApiError::bad_request("invalid_body", format!("expected JSON {{\"message\": …}}: {e}")))?;
    let question = request.message.trim();
    if question.is_empty() {
        return Err(ApiError::bad_request("empty_message", "the message is empty"));
    }
    if question.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::bad_request(
            "message_too_long",
            format!("messages are limited to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let llm = state.llm.clone().ok_or_else(|| ApiError::NotConfigured {
        message:
            "chat is not configured on this server (set llm_url / OCRCHAT_LLM_URL to an OpenAI-compatible endpoint)"
                .into(),
    })?;
    let records = state.store.chat_history(&job.uuid, account_id).await?;
    let conversation = match request.conversation.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(id) if records.iter().any(|r| r.conversation == id) => id.to_string(),
        Some(_) => return Err(ApiError::NotFound),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let history: Vec<ChatTurn> = records
        .iter()
        .filter(|r| r.conversation == conversation)
        .map(|r| ChatTurn { role: stored_role(&r.role), content: r.content.clone() })
        .collect();
    let doc = document(&job)?.ok_or_else(|| ApiError::internal("done job without a result"))?;
    let pages: Vec<String> = doc.pages.iter().map(|p| p.text.clone()).collect();
    let answer = llm.answer(&pages, &history, question).await?;

    let now = jobs::now();
    let citations: Vec<Citation> = answer.citations;
    let user = ChatRecord {
        conversation: conversation.clone(),
        role: ChatRole::User.as_str().into(),
        content: question.to_string(),
        citations: None,
        created_at: now,
    };
    let assistant = ChatRecord {
        conversation: conversation.clone(),
        role: ChatRole::Assistant.as_str().into(),
        content: answer.content,
        citations: Some(serde_json::to_string(&citations)?),
        created_at: now,
    };
    state.store.add_chat(&job.uuid, account_id, &user).await?;
    state.store.add_chat(&job.uuid, account_id, &assistant).await?;
    Ok(Json(ChatReply { conversation, message: message(assistant) }))
}

/// Longest accepted question.
const MAX_MESSAGE_CHARS: usize = 4000;

/// A stored role; anything but `assistant` was the caller's.
fn stored_role(role: &str) -> ChatRole {
    ChatRole::parse(role).unwrap_or(ChatRole::User)
}

fn message(r: ChatRecord) -> ChatMessage {
    ChatMessage {
        role: stored_role(&r.role),
        content: r.content,
        citations: r.citations.and_then(|c| serde_json::from_str(&c).ok()),
        conversation: r.conversation,
        created_at: rfc3339(r.created_at),
    }
}

/// The transcript of a job's conversations for this account.
#[utoipa::path(get, path = "/api/v1/chat/{uuid}/history/", tag = "chat",
    params(("uuid" = String, Path, description = "Job id")),
    responses(
        (status = 200, body = ChatHistory),
        (status = 401, description = "No account token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
    ),
    security(("bearer" = []), ("api_token" = [])))]
pub async fn history(State(state): State<AppState>, caller: Caller, id: JobId) -> Result<Json<ChatHistory>, ApiError> {
    let account = caller.require_account()?.clone();
    let job = owned_job(&state, &caller, &id).await?;
    let records = state.store.chat_history(&job.uuid, account.id).await?;
    let messages = records.into_iter().map(message).collect();
    Ok(Json(ChatHistory { messages }))
}
