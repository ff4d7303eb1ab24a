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
use ocrchat_answer::check_question;

/// Request body of a chat message.
#[derive(Deserialize, ToSchema)]
pub struct ChatRequest {
    /// The question: at least one non-blank character, at most 4000
    /// characters once trimmed, no control characters but tab and line
    /// breaks (`ocrchat_answer::check_question`, the rule the browser shares).
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD]*[^\s\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFD]*$"
    )]
    pub message: String,
    /// Continue this conversation (from a previous answer); `404` if this
    /// job has no such conversation for the caller.
    #[schema(nullable = false)]
    pub conversation: Option<String>,
    /// Who answers: `builtin` (extractive, always available) or `llm` (the
    /// configured chat model). Default: `llm` when one is configured, else `builtin`.
    pub engine: Option<ChatEngine>,
}

/// Who answers a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatEngine {
    /// The built-in extractive answerer (`ocrchat_answer`): no model, answers
    /// with values and sentences copied from the pages.
    Builtin,
    /// The configured OpenAI-compatible chat model (`llm_url`).
    Llm,
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
        (status = 400, description = "Not a JSON body with a message; empty, over-long or binary message", body = ErrorBody),
        (status = 401, description = "No account token, or an unknown one", body = ErrorBody),
        (status = 404, description = "No such job or conversation (or not the caller's)", body = ErrorBody),
        (status = 409, description = "Job not done", body = ErrorBody),
        (status = 501, description = "engine=llm but no chat model is configured", body = ErrorBody),
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
    let question = check_question(&request.message).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let llm = match (request.engine, state.llm.clone()) {
        (Some(ChatEngine::Builtin), _) | (None, None) => None,
        (_, Some(llm)) => Some(llm),
        (Some(ChatEngine::Llm), None) => {
            return Err(ApiError::NotConfigured {
                message: "no chat model is configured on this server (set llm_url and llm_model, or \
                          OCRCHAT_LLM_URL and OCRCHAT_LLM_MODEL, to an OpenAI-compatible endpoint such as \
                          llama.cpp's server); engine=builtin answers without one"
                    .into(),
            });
        }
    };
    let records = state.store.chat_history(&job.uuid, account_id).await?;
    let conversation = match request.conversation.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(id) if records.iter().any(|r| r.conversation == id) => id.to_string(),
        Some(_) => return Err(ApiError::NotFound),
        None => uuid::Uuid::new_v4().simple().to_string(),
    };
    let history: Vec<ChatTurn> = records
        .iter()
        .filter(|r| r.conversation == conversation)
        .map(|r| ChatTurn { role: r.role, content: r.content.clone() })
        .collect();
    let doc = document(&state, &job).await?.ok_or_else(|| ApiError::internal("done job without a result"))?;
    let pages: Vec<String> = doc.pages.iter().map(|p| p.text.clone()).collect();
    let answer = match llm {
        Some(llm) => llm.answer(&pages, &history, question).await?,
        None => {
            // Milliseconds, but CPU work over the whole text: off the async threads.
            let question = question.to_string();
            tokio::task::spawn_blocking(move || ocrchat_answer::answer(&pages, &history, &question))
                .await
                .map_err(|e| ApiError::internal(format!("built-in answerer failed: {e}")))?
        }
    };

    let now = jobs::now();
    let citations: Vec<Citation> = answer.citations;
    let user = ChatRecord {
        conversation: conversation.clone(),
        role: ChatRole::User,
        content: question.to_string(),
        citations: None,
        created_at: now,
    };
    let assistant = ChatRecord {
        conversation: conversation.clone(),
        role: ChatRole::Assistant,
        content: answer.content,
        citations: Some(serde_json::to_string(&citations)?),
        created_at: now,
    };
    state.store.add_chat(&job.uuid, account_id, &user).await?;
    state.store.add_chat(&job.uuid, account_id, &assistant).await?;
    Ok(Json(ChatReply { conversation, message: message(assistant) }))
}

fn message(r: ChatRecord) -> ChatMessage {
    ChatMessage {
        role: r.role,
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
