//! `POST /api/v1/ocr/` (with `Idempotency-Key`), `GET /api/v1/ocr/` (the
//! caller's jobs), `GET /api/v1/ocr/{uuid}/` (with `ETag`/`If-None-Match`),
//! `GET /api/v1/ocr/{uuid}/download/`.

use axum::Json;
use axum::extract::multipart::{Field, Multipart, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ocrchat_engine::{ExportFormat, Source, export};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::options;
use super::view::{JobSummary, JobView, document, job_json};
use crate::auth::Caller;
use crate::blobs::BlobKind;
use crate::error::{ApiError, ErrorBody};
use crate::jobs::{self, now};
use crate::llm::{Tier, Tool};
use crate::metering;
use crate::state::AppState;
use crate::store::{Cursor, Inserted, Job, JobStatus, NewJob, Plan, StoredView};

/// The multipart form of a submission. A blank field counts as absent;
/// `translate_to` is required with `tool=translate` and refused otherwise.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes the form for the OpenAPI document; read_form parses it")]
pub struct SubmitForm {
    /// PNG, JPG, WEBP, GIF, BMP, TIFF or PDF; the type is sniffed from the bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `cpu` (default) or `vlm` (`501` when the server has no vision model).
    #[schema(nullable = false)]
    tier: Option<Tier>,
    /// `auto` (default) or a language code (`GET /api/v1/languages/`).
    #[schema(nullable = false)]
    language: Option<String>,
    /// Tool preset slug (`GET /api/v1/tools/`).
    #[schema(nullable = false)]
    tool: Option<Tool>,
    /// Target language code; required with `tool=translate`, refused otherwise.
    #[schema(nullable = false)]
    translate_to: Option<String>,
}

/// The form's fields once read; the file is on disk.
#[derive(Default)]
struct Form {
    filename: Option<String>,
    file_bytes: u64,
    tier: Option<String>,
    language: Option<String>,
    tool: Option<String>,
    translate_to: Option<String>,
}

/// Deletes a half-accepted upload unless the job took it over.
struct UploadFile {
    path: std::path::PathBuf,
    keep: bool,
}

impl Drop for UploadFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::bad_request("invalid_form", format!("could not read the multipart form: {}", e.body_text()))
    }
}

/// Streams the `file` field to disk, counting bytes against the limit.
async fn save_field(mut field: Field<'_>, upload: &UploadFile, limit: u64) -> Result<u64, ApiError> {
    let mut out = tokio::fs::File::create(&upload.path).await?;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e, limit))? {
        size += chunk.len() as u64;
        if size > limit {
            // Drain this field too (see read_form).
            while let Ok(Some(_)) = field.chunk().await {}
            return Err(ApiError::PayloadTooLarge { limit });
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(size)
}

async fn read_form(mut multipart: Multipart, upload: &UploadFile, limit: u64) -> Result<Form, ApiError> {
    let mut form = Form::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(&e, limit))? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if form.filename.is_some() {
                return Err(ApiError::bad_request("invalid_form", "send one file per request"));
            }
            form.filename = Some(field.file_name().unwrap_or("document").to_string());
            match save_field(field, upload, limit).await {
                Ok(size) => form.file_bytes = size,
                Err(e @ ApiError::PayloadTooLarge { .. }) => {
                    // Read (and discard) the rest of the body so the client,
                    // still sending, gets to read our 413 instead of a reset
                    // connection. The router's body limit bounds this.
                    while let Ok(Some(mut rest)) = multipart.next_field().await {
                        while let Ok(Some(_)) = rest.chunk().await {}
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        let value = field.text().await.map_err(|e| multipart_error(&e, limit))?;
        let value = value.trim().to_string();
        let slot = match name.as_str() {
            "tier" => &mut form.tier,
            "language" => &mut form.language,
            "tool" => &mut form.tool,
            "translate_to" => &mut form.translate_to,
            // Unknown fields are ignored, as form handlers usually do.
            _ => continue,
        };
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(form)
}

/// Keeps the name's stem safe for a `Content-Disposition` header.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).take(120).collect();
    if cleaned.trim_matches(['.', '_']).is_empty() { "document".into() } else { cleaned }
}

/// Submit a document.
#[utoipa::path(post, path = "/api/v1/ocr/", tag = "ocr",
    request_body(content = SubmitForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The job: done/failed for ≤ 5 pages, else pending; with the same `Idempotency-Key`, the job of the first submission (charged once)", body = JobView),
        (status = 400, description = "No/empty/unsupported/unreadable file, too many pages, bad field \
            (see the API docs for when a broken file is refused here and when it becomes a failed job)", body = ErrorBody),
        (status = 401, description = "Unknown or revoked token", body = ErrorBody),
        (status = 402, description = "Out of pages (`used`/`cap`)", body = ErrorBody),
        (status = 413, description = "Body over the upload limit", body = ErrorBody),
        (status = 429, description = "Too many requests in flight (`Retry-After`)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 501, description = "tier=vlm on a server without a configured vision model", body = ErrorBody),
    ),
    params(("Idempotency-Key" = Option<String>, Header, description = "A client-chosen key (≤ 200 visible ASCII characters): a retried submission with the same key returns the first job instead of a new one")),
    security((), ("bearer" = []), ("api_token" = [])))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let owner = caller.owner();
    let idempotency_key = idempotency_key(&headers)?;
    let busy =
        |what: &str| ApiError::TooManyRequests { message: format!("too many {what}; retry shortly"), retry_after: 2 };
    let _all =
        state.submissions.clone().try_acquire_owned().map_err(|_| busy("submissions in progress on this server"))?;
    let queued = state.store.unfinished_jobs(&owner, state.config.inline_max_pages).await?;
    let _mine = state
        .enter_inflight(&owner, queued, state.config.max_inflight_per_caller)
        .ok_or_else(|| busy("requests in flight for this caller"))?;

    let multipart = multipart.map_err(|e| {
        ApiError::bad_request("no_file", format!("expected a multipart/form-data body with a `file` field ({e})"))
    })?;
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    let mut upload = UploadFile { path: state.uploads_dir.join(&uuid), keep: false };
    let limit = state.config.max_upload_bytes;
    let form = read_form(multipart, &upload, limit).await?;
    let Some(filename) = form.filename else {
        return Err(ApiError::bad_request("no_file", "the form has no `file` field"));
    };
    if form.file_bytes == 0 {
        return Err(ApiError::bad_request("empty_file", "the uploaded file is empty"));
    }
    // A retry of a submission that was accepted (the client may never have
    // seen the answer, e.g. the server was killed mid-request): that job.
    // Checked once the body is read, so the client gets to read the answer,
    // and only for a well-formed submission: a request without a file is
    // refused whatever its key.
    if let Some(key) = &idempotency_key
        && let Some(job) = state.store.job_by_idempotency_key(&owner, key).await?
    {
        return Ok(json_response(&job_json(&state, &job).await?, &HeaderMap::new()));
    }
    let options = options::validate(
        form.tool.as_deref(),
        form.tier.as_deref(),
        form.translate_to.as_deref(),
        form.language.as_deref(),
        &state.capabilities(),
    )?;
    if options.tier == Tier::Cpu {
        // The model exists for the language (validate checked the code).
        state.engines.check(&options.language)?;
    }

    // Count pages before any work: parse headers only (images) or the page tree (PDF).
    let path = upload.path.clone();
    let limits = state.engines.limits();
    let (format, page_count) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let bytes = std::fs::read(&path)?;
        let opened = std::panic::catch_unwind(|| Source::open(&bytes, limits).map(|s| (s.format(), s.page_count())));
        opened
            .map_err(|_| ApiError::bad_request("undecodable_file", "the file could not be decoded"))?
            .map_err(ApiError::from)
    })
    .await??;
    let page_count = page_count as i64;
    if page_count == 0 {
        return Err(ApiError::bad_request("undecodable_file", "the file has no pages"));
    }
    let max_pages = metering::max_pages_per_file(&caller, &state.config);
    if page_count > max_pages {
        return Err(ApiError::bad_request(
            "too_many_pages",
            format!("the file has {page_count} pages; this plan accepts up to {max_pages} pages per file"),
        ));
    }

    let page_cost = match options.tier {
        Tier::Vlm => state.config.vlm_page_cost,
        Tier::Cpu => state.config.cpu_page_cost,
    };
    let charge = metering::charge_for(&caller, &state.config, time::OffsetDateTime::now_utc());
    if let Err(over) = state.store.reserve(&charge, page_count * page_cost).await? {
        return Err(ApiError::PaymentRequired {
            used: over.used,
            cap: over.cap,
            message: format!(
                "this job needs {} pages but {} has {} of {} left",
                page_count * page_cost,
                metering::balance_name(&caller),
                (over.cap - over.used).max(0),
                over.cap
            ),
        });
    }

    let inline = page_count <= state.config.inline_max_pages;
    let new_job = NewJob {
        uuid: uuid.clone(),
        owner,
        account_id: caller.account.as_ref().map(|a| a.id),
        priority: i64::from(caller.plan() == Some(Plan::Paid)),
        tier: options.tier,
        language: options.language,
        tool: options.tool,
        translate_to: options.translate_to,
        filename: safe_filename(&filename),
        input_format: format,
        upload: uuid.clone(),
        page_count,
        page_cost,
        charge: charge.clone(),
        idempotency_key,
    };
    // The upload goes to the blob store before the job exists: any node may claim it at once.
    state.blobs.put(BlobKind::Upload, &uuid, &upload.path).await.map_err(ApiError::internal)?;
    let inserted = state.store.insert_job(&new_job, inline.then_some(state.worker_id.as_str()), now()).await;
    let job = match inserted {
        Ok(Inserted::New(job)) => job,
        Ok(Inserted::Existing(job)) => {
            // The same key raced in: the first submission wins, this one's
            // reservation is given back and its upload deleted.
            state.store.release(&charge, page_count * page_cost).await?;
            let _ = state.blobs.delete(BlobKind::Upload, &uuid).await;
            return Ok(json_response(&job_json(&state, &job).await?, &HeaderMap::new()));
        }
        Err(e) => {
            let _ = state.blobs.delete(BlobKind::Upload, &uuid).await;
            return Err(e.into());
        }
    };
    upload.keep = true;

    if !inline {
        // Answer with the job as queued: the contract says larger files
        // come back at once as pending, and the client polls.
        state.queue_notify.notify_one();
        return Ok(json_response(&job_json(&state, &job).await?, &HeaderMap::new()));
    }
    // Run in its own task: a client that disconnects does not abort the
    // job half-way; it finishes and stays pollable.
    let task_state = state.clone();
    let task = tokio::spawn(async move { jobs::process(&task_state, job).await });
    task.await??;
    let job = state.store.job(&uuid).await?.ok_or(ApiError::NotFound)?;
    Ok(json_response(&job_json(&state, &job).await?, &HeaderMap::new()))
}

/// The `Idempotency-Key` header, when given (visible ASCII, at most 200 characters).
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
    match key {
        Some(key) => Ok(Some(key.to_string())),
        None => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        )),
    }
}

/// A job's JSON with its `ETag`; `304 Not Modified` when the client's
/// `If-None-Match` already names it.
fn json_response(view: &StoredView, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&view.etag).ok();
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == view.etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], view.json.clone()).into_response()
    };
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The `{uuid}` of a job path, normalised (hyphens dropped, lower case). A
/// path segment that cannot be decoded names no job: 404, like any unknown id.
pub struct JobId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for JobId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound)?;
        Ok(JobId(raw.replace('-', "").to_ascii_lowercase()))
    }
}

/// The caller's job, or 404 (also for someone else's job).
pub async fn owned_job(state: &AppState, caller: &Caller, id: &JobId) -> Result<Job, ApiError> {
    match state.store.job(&id.0).await? {
        Some(job) if job.owner == caller.owner() => Ok(job),
        _ => Err(ApiError::NotFound),
    }
}

/// Poll a job.
#[utoipa::path(get, path = "/api/v1/ocr/{uuid}/", tag = "ocr",
    params(
        ("uuid" = String, Path, description = "Job id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of an earlier answer: 304 while the job is unchanged"),
    ),
    responses(
        (status = 200, body = JobView, headers(("ETag" = String, description = "Changes whenever the job does"))),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`"),
        (status = 401, description = "Unknown or revoked token", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("api_token" = [])))]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Caller,
    id: JobId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &caller, &id).await?;
    Ok(json_response(&job_json(&state, &job).await?, &headers))
}

/// `?cursor=&limit=` of the listing.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    #[param(schema_with = cursor_schema)]
    cursor: Option<String>,
    /// Jobs per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// The cursor's pattern in the OpenAPI document (`#[param(pattern)]` is
/// dropped on an `Option<String>`).
fn cursor_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some("^[0-9]{1,18}_[0-9a-f]{32}$"))
        .build()
}

/// `<created_at>_<uuid>` as `next_cursor` writes it (and the schema's pattern says).
fn parse_cursor(c: &str) -> Option<Cursor> {
    let (t, u) = c.split_once('_')?;
    let digits = |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let hex = u.len() == 32 && u.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !(digits(t, 18) && hex) {
        return None;
    }
    Some(Cursor { created_at: t.parse().ok()?, uuid: u.to_string() })
}

/// A page of the caller's jobs.
#[derive(serde::Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<JobSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The caller's jobs, newest first (e.g. to find a job whose submission
/// answer was lost).
#[utoipa::path(get, path = "/api/v1/ocr/", tag = "ocr",
    params(ListQuery),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = []), ("api_token" = [])))]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::bad_request("invalid_field", "limit must be a number between 1 and 100"))?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("invalid_field", "limit must be between 1 and 100"));
    }
    let cursor =
        match query.cursor.as_deref() {
            None => None,
            Some(c) => Some(parse_cursor(c).ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "cursor must be a next_cursor of this listing")
            })?),
        };
    // One more than asked tells whether another page exists.
    let mut jobs = state.store.jobs_of(&caller.owner(), cursor.as_ref(), limit + 1).await?;
    let more = jobs.len() as i64 > limit;
    jobs.truncate(limit as usize);
    let next_cursor = more.then(|| jobs.last().map(|j| format!("{}_{}", j.created_at, j.uuid))).flatten();
    Ok(Json(JobList { jobs: jobs.iter().map(JobSummary::new).collect(), next_cursor }))
}

/// `?format=` of a download.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `txt`, `md`, `docx`, `pdf`, `csv` or `json` (required: absent is a 400).
    #[param(schema_with = format_schema)]
    format: String,
}

/// The formats a download offers, by their canonical names (what
/// [`ExportFormat::extension`] gives; [`ExportFormat::parse`] also takes
/// a few aliases).
pub const DOWNLOAD_FORMATS: [&str; 6] = ["txt", "md", "docx", "pdf", "csv", "json"];

fn format_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(DOWNLOAD_FORMATS))
        .build()
}

/// Download the result in one format.
#[utoipa::path(get, path = "/api/v1/ocr/{uuid}/download/", tag = "ocr",
    params(("uuid" = String, Path, description = "Job id"), DownloadQuery),
    responses(
        (status = 200, description = "The file, with Content-Disposition: attachment", content(
            (Vec<u8> = "text/plain"), (Vec<u8> = "text/markdown"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (Vec<u8> = "application/pdf"), (Vec<u8> = "text/csv"), (JobView = "application/json"))),
        (status = 400, description = "Missing or unknown format", body = ErrorBody),
        (status = 401, description = "Unknown or revoked token", body = ErrorBody),
        (status = 404, description = "No such job (or not the caller's)", body = ErrorBody),
        (status = 409, description = "Job not done yet", body = ErrorBody),
        (status = 500, description = "The searchable PDF could not be rendered for this job", body = ErrorBody),
    ),
    security((), ("bearer" = []), ("api_token" = [])))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    id: JobId,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &caller, &id).await?;
    let wanted = query.map(|Query(q)| q.format).unwrap_or_default();
    let format = ExportFormat::parse(&wanted).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_format",
            format!("format must be one of txt, md, docx, pdf, csv, json (got {wanted:?})"),
        )
    })?;
    if job.status != JobStatus::Done {
        return Err(ApiError::NotReady { status: job.status.as_str() });
    }
    let body = match format {
        ExportFormat::Json => axum::body::Body::from(job_json(&state, &job).await?.json),
        // Streamed from the blob store, chunk by chunk.
        ExportFormat::Pdf => {
            let stream = state.blobs.stream(BlobKind::ResultPdf, &job.uuid).await.map_err(ApiError::internal)?;
            let stream =
                stream.ok_or_else(|| ApiError::internal(format!("searchable PDF of {} unavailable", job.uuid)))?;
            axum::body::Body::from_stream(stream)
        }
        other => {
            let doc = document(&state, &job).await?.ok_or_else(|| ApiError::internal("done job without a result"))?;
            axum::body::Body::from(tokio::task::spawn_blocking(move || export(&doc, other, None)).await??)
        }
    };
    let stem = job.filename.rsplit_once('.').map_or(job.filename.as_str(), |(stem, _)| stem);
    let stem = if stem.is_empty() { "document" } else { stem };
    let disposition = format!("attachment; filename=\"{stem}.{}\"", format.extension());
    let content_type = if format == ExportFormat::Json { "application/json" } else { format.content_type() };
    Ok(([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_filename;

    #[test]
    fn filenames_are_header_safe() {
        let cases = [
            ("invoice.pdf", "invoice.pdf"),
            ("../../etc/passwd", "passwd"),
            ("C:\\docs\\scan 1.png", "scan_1.png"),
            ("a\"b\r\n.png", "a_b__.png"),
            ("...", "document"),
            ("Überweisung.pdf", "_berweisung.pdf"),
        ];
        for (input, want) in cases {
            assert_eq!(safe_filename(input), want, "{input}");
        }
    }
}
