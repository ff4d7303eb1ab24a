//! Running one job: pages are recognised one at a time on blocking threads
//! (never on the async runtime), each checkpointed in the database, so a job
//! interrupted by a crash resumes where it stopped. When the last page is in,
//! the document is assembled, the searchable PDF is rendered from the upload
//! (the only time the page images exist), and the upload is deleted.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ocrchat_engine::{Document, OcrEngine, Page, Source, export};
use tracing::{info, warn};

use crate::metrics::OutcomeLabels;
use crate::state::AppState;
use crate::store::{Finish, Job, JobStatus, PageRecord, StoreError};

/// Unix seconds now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Where a job's searchable PDF is kept until the job expires.
pub fn result_pdf_path(results_dir: &Path, uuid: &str) -> PathBuf {
    results_dir.join(format!("{uuid}.pdf"))
}

/// Why a job could not produce any result.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Processes a claimed job to its end (done or failed). Storage errors are
/// returned: the job then stays `processing`, and the stale-job sweep
/// requeues it.
pub async fn process(state: &AppState, job: Job) -> Result<(), StoreError> {
    let _running = state.enter_running(&job.uuid);
    let started = Instant::now();
    let outcome = recognise_pages(state, &job).await;
    let finish = match outcome {
        Ok(()) => assemble(state, &job).await?,
        Err(JobError::Store(e)) => return Err(e),
        Err(JobError::Failed(message)) => {
            let ok_pages = state.store.pages(&job.uuid).await?.iter().filter(|p| p.page.is_some()).count() as i64;
            Finish { status: JobStatus::Failed, error: Some(message), result: None, refund_pages: job.page_count - ok_pages }
        }
    };
    state.store.finish(&job.uuid, &finish, now()).await?;
    if let Some(path) = &job.upload_path
        && let Err(e) = tokio::fs::remove_file(path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        warn!(uuid = %job.uuid, error = %e, "could not delete the upload");
    }
    let outcome = finish.status.as_str();
    state.metrics.jobs.get_or_create(&OutcomeLabels { tier: job.tier.clone(), outcome: outcome.into() }).inc();
    info!(uuid = %job.uuid, pages = job.page_count, outcome, ms = started.elapsed().as_millis() as u64, "job finished");
    Ok(())
}

/// Recognises every page not yet checkpointed.
async fn recognise_pages(state: &AppState, job: &Job) -> Result<(), JobError> {
    let path = job.upload_path.clone().ok_or_else(|| JobError::Failed("the uploaded file is no longer available".into()))?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| JobError::Failed(format!("the uploaded file could not be read: {e}")))?;
    let done: HashSet<i64> = state.store.pages(&job.uuid).await?.iter().map(|p| p.index).collect();
    if done.len() as i64 >= job.page_count {
        return Ok(());
    }
    let engine = match job.tier.as_str() {
        "cpu" => state.engines.for_language(&job.language).map_err(|e| JobError::Failed(e.to_string()))?,
        other => return Err(JobError::Failed(format!("tier {other} is not configured on this server"))),
    };
    let state2 = state.clone();
    let job2 = job.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || ocr_pages_blocking(&state2, &job2, &bytes, &done, &engine, &handle))
        .await
        .map_err(|e| JobError::Failed(format!("worker thread failed: {e}")))?
}

fn ocr_pages_blocking(
    state: &AppState,
    job: &Job,
    bytes: &[u8],
    done: &HashSet<i64>,
    engine: &Arc<OcrEngine>,
    handle: &tokio::runtime::Handle,
) -> Result<(), JobError> {
    let source = Source::open(bytes, state.engines.limits()).map_err(|e| JobError::Failed(e.to_string()))?;
    for index in 0..job.page_count {
        if done.contains(&index) {
            continue;
        }
        let permit = handle.block_on(state.inference.acquire()).map_err(|e| JobError::Failed(e.to_string()))?;
        let start = Instant::now();
        // A panic in a decoder or the runtime fails this page, not the server.
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| engine.ocr_page(&source, index as usize)));
        drop(permit);
        state.metrics.page_seconds.observe(start.elapsed().as_secs_f64());
        let record = match result {
            Ok(Ok(page)) => {
                let json = serde_json::to_string(&page).map_err(|e| JobError::Failed(e.to_string()))?;
                PageRecord { index, page: Some(json), error: None }
            }
            Ok(Err(e)) => {
                warn!(uuid = %job.uuid, index, error = %e, "page failed");
                PageRecord { index, page: None, error: Some(e.to_string()) }
            }
            Err(_) => {
                warn!(uuid = %job.uuid, index, "page panicked");
                PageRecord { index, page: None, error: Some("internal error while reading this page".into()) }
            }
        };
        let outcome = if record.error.is_none() { "ok" } else { "failed" };
        state.metrics.pages.get_or_create(&OutcomeLabels { tier: job.tier.clone(), outcome: outcome.into() }).inc();
        handle.block_on(state.store.save_page(&job.uuid, &record, now()))?;
    }
    Ok(())
}

/// Builds the document from the checkpoints and renders the searchable PDF.
async fn assemble(state: &AppState, job: &Job) -> Result<Finish, StoreError> {
    let records = state.store.pages(&job.uuid).await?;
    let mut pages = Vec::with_capacity(records.len());
    let mut failed = Vec::new();
    for index in 0..job.page_count {
        let record = records.iter().find(|r| r.index == index);
        match record.and_then(|r| r.page.as_deref()).map(serde_json::from_str::<Page>) {
            Some(Ok(page)) => pages.push(page),
            _ => {
                failed.push(record.and_then(|r| r.error.clone()).unwrap_or_else(|| "page was not processed".into()));
                // An empty page keeps page numbers aligned with the file.
                pages.push(Page { index: index as usize, ..Page::default() });
            }
        }
    }
    let refund_pages = failed.len() as i64;
    if refund_pages == job.page_count {
        let error = failed.into_iter().next().unwrap_or_else(|| "no page could be read".into());
        return Ok(Finish { status: JobStatus::Failed, error: Some(error), result: None, refund_pages });
    }
    let doc = Document::from_pages(pages);
    write_searchable_pdf(state, job, &doc).await;
    let result = serde_json::to_string(&doc).map_err(|e| StoreError::new(e.to_string()))?;
    let error = (!failed.is_empty()).then(|| format!("{} of {} pages could not be read: {}", failed.len(), job.page_count, failed[0]));
    Ok(Finish { status: JobStatus::Done, error, result: Some(result), refund_pages })
}

/// Renders the searchable PDF while the upload still exists. A failure here
/// does not fail the job (every other format still works); the PDF download
/// then reports it.
async fn write_searchable_pdf(state: &AppState, job: &Job, doc: &Document) {
    let Some(upload) = job.upload_path.clone() else { return };
    let target = result_pdf_path(&state.results_dir, &job.uuid);
    let limits = state.engines.limits();
    let doc = doc.clone();
    let uuid = job.uuid.clone();
    let rendered = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let bytes = std::fs::read(&upload).map_err(|e| e.to_string())?;
        let pdf = std::panic::catch_unwind(AssertUnwindSafe(|| export::pdf::from_original(&doc, &bytes, limits)))
            .map_err(|_| "panic while rendering".to_string())?
            .map_err(|e| e.to_string())?;
        let tmp = target.with_extension("pdf.tmp");
        std::fs::write(&tmp, pdf).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &target).map_err(|e| e.to_string())
    })
    .await;
    match rendered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(%uuid, error = %e, "searchable PDF not rendered"),
        Err(e) => warn!(%uuid, error = %e, "searchable PDF task failed"),
    }
}
