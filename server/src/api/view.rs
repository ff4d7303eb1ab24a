//! The job object returned by submit, poll and `download/?format=json`, and
//! the short form the listing returns. A finished job's JSON is rendered
//! once and stored with its `ETag` ([`finished_view`]): polls of a large
//! done job send the stored bytes (or 304) instead of rebuilding megabytes.

use ocrchat_engine::{Document, ExportFormat, Page, export};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::llm::{Tier, Tool};
use crate::state::AppState;
use crate::store::{Job, JobStatus, StoredView};

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub uuid: String,
    /// `pending`, `processing`, `done` or `failed`.
    pub status: &'static str,
    /// `cpu` or `vlm`.
    pub tier: Tier,
    /// Requested language (`auto` or a code).
    pub language: String,
    /// Tool preset, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tool: Option<Tool>,
    /// Target language of `translate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translate_to: Option<String>,
    /// Original file name.
    pub filename: String,
    /// Pages in the file.
    pub page_count: i64,
    /// Pages finished so far (progress).
    pub pages_done: i64,
    /// Mean word confidence (0–1) once done.
    pub mean_confidence: Option<f32>,
    /// Page texts joined by a form feed.
    pub text: String,
    /// Headings, paragraphs, lists and pipe tables in reading order.
    pub markdown: String,
    /// Pages with blocks → lines → words (bbox `[x0, y0, x1, y1]` in page pixels, confidence).
    #[schema(value_type = Vec<Object>)]
    pub pages: Vec<Page>,
    /// Why the job (or some of its pages) failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once processing started.
    pub started_at: Option<String>,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
}

/// Unix seconds as RFC 3339 (empty when out of range).
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// The stored result of a done job.
pub async fn document(state: &AppState, job: &Job) -> Result<Option<Document>, ApiError> {
    if job.status != JobStatus::Done {
        return Ok(None);
    }
    match state.store.result(&job.uuid).await? {
        Some(json) => serde_json::from_str(&json).map(Some).map_err(ApiError::internal),
        None => Ok(None),
    }
}

/// The API JSON of a job: stored once for finished jobs, rendered for the others.
pub async fn job_json(state: &AppState, job: &Job) -> Result<StoredView, ApiError> {
    if !matches!(job.status, JobStatus::Done | JobStatus::Failed) {
        return render(&JobView::new(job, None)?);
    }
    if let Some(view) = state.store.view(&job.uuid).await? {
        return Ok(view);
    }
    let doc = document(state, job).await?;
    let view = render(&JobView::new(job, doc)?)?;
    state.store.store_view(&job.uuid, &view).await?;
    Ok(view)
}

fn render(view: &JobView) -> Result<StoredView, ApiError> {
    let json = serde_json::to_string(view)?;
    let digest = Sha256::digest(json.as_bytes());
    Ok(StoredView { etag: format!("\"{}\"", hex::encode(&digest[..16])), json })
}

impl JobView {
    /// Builds the view of `job` with its document (done jobs).
    pub fn new(job: &Job, doc: Option<Document>) -> Result<Self, ApiError> {
        let (text, markdown, pages, mean_confidence) = match doc {
            Some(doc) => {
                let markdown = export(&doc, ExportFormat::Md, None)?;
                (doc.text(), String::from_utf8_lossy(&markdown).into_owned(), doc.pages, Some(doc.mean_confidence))
            }
            None => (String::new(), String::new(), Vec::new(), None),
        };
        Ok(Self {
            uuid: job.uuid.clone(),
            status: job.status.as_str(),
            tier: job.tier,
            language: job.language.clone(),
            tool: job.tool,
            translate_to: job.translate_to.clone(),
            filename: job.filename.clone(),
            page_count: job.page_count,
            pages_done: job.pages_done,
            mean_confidence,
            text,
            markdown,
            pages,
            error: job.error.clone(),
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            finished_at: job.finished_at.map(rfc3339),
        })
    }
}

/// A job in the caller's listing: its state, without the document.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobSummary {
    /// Job id.
    pub uuid: String,
    /// `pending`, `processing`, `done` or `failed`.
    pub status: &'static str,
    /// `cpu` or `vlm`.
    pub tier: Tier,
    /// Original file name.
    pub filename: String,
    /// Pages in the file.
    pub page_count: i64,
    /// Pages finished so far.
    pub pages_done: i64,
    /// Why the job (or some of its pages) failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once finished.
    pub finished_at: Option<String>,
}

impl JobSummary {
    /// The summary of `job`.
    pub fn new(job: &Job) -> Self {
        Self {
            uuid: job.uuid.clone(),
            status: job.status.as_str(),
            tier: job.tier,
            filename: job.filename.clone(),
            page_count: job.page_count,
            pages_done: job.pages_done,
            error: job.error.clone(),
            created_at: rfc3339(job.created_at),
            finished_at: job.finished_at.map(rfc3339),
        }
    }
}
