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

use ocrchat_engine::{DecodeLimits, Document, EngineError, ExportFormat, OcrEngine, Original, Page, Source, export};
use tracing::{info, warn};

use crate::error::{BoxError, chain, file_error_message};
use crate::llm::{LlmClient, LlmError, PageRequest, Tool, page_from_markdown};
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

/// Why a job could not produce any result. The message is what the job's
/// `error` shows; causes go to the log.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("the uploaded file is no longer available")]
    UploadGone,
    #[error("the uploaded file could not be read")]
    UploadUnreadable(#[source] std::io::Error),
    #[error("{0} is no longer configured on this server")]
    NotConfigured(&'static str),
    #[error("{}", file_error_message(.0))]
    Engine(#[from] EngineError),
    #[error("internal error while processing the job")]
    Internal(#[source] BoxError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio::task::JoinError> for JobError {
    fn from(e: tokio::task::JoinError) -> Self {
        JobError::Internal(e.into())
    }
}

/// Why one page has no result (its message is stored as the page's error;
/// the whole chain is logged).
#[derive(Debug, thiserror::Error)]
enum PageFailure {
    /// The engine could not read the page (or export it for translation).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A decoder or the runtime panicked on this page.
    #[error("internal error while reading this page")]
    Panicked,
    /// The VLM or the translating model failed.
    #[error(transparent)]
    Llm(#[from] LlmError),
    /// The page image for the VLM could not be encoded.
    #[error("the page image could not be encoded")]
    Encode(#[source] image::ImageError),
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
        Err(e) => {
            warn!(uuid = %job.uuid, error = %chain(&e), "job failed");
            let ok_pages = state.store.pages(&job.uuid).await?.iter().filter(|p| p.page.is_some()).count() as i64;
            Finish {
                status: JobStatus::Failed,
                error: Some(e.to_string()),
                result: None,
                refund_pages: job.page_count - ok_pages,
            }
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
    let path = job.upload_path.clone().ok_or(JobError::UploadGone)?;
    let bytes = tokio::fs::read(&path).await.map_err(JobError::UploadUnreadable)?;
    let done: HashSet<i64> = state.store.pages(&job.uuid).await?.iter().map(|p| p.index).collect();
    if done.len() as i64 >= job.page_count {
        return Ok(());
    }
    let tool = job.tool.as_deref().and_then(Tool::from_slug);
    match job.tier.as_str() {
        "vlm" => {
            let vlm = state.vlm.clone().ok_or(JobError::NotConfigured("the vlm tier"))?;
            let request = PageRequest { language: job.language.clone(), tool, translate_to: job.translate_to.clone() };
            vlm_pages(state, job, Arc::new(bytes), &done, &vlm, &request).await
        }
        _ => {
            let engine = state.engines.for_language(&job.language)?;
            // tool=translate on the cpu tier: OCR, then the chat model translates each page.
            let translate = match (tool, &job.translate_to) {
                (Some(Tool::Translate), Some(to)) => {
                    Some((state.llm.clone().ok_or(JobError::NotConfigured("translation (a chat model)"))?, to.clone()))
                }
                _ => None,
            };
            let state2 = state.clone();
            let job2 = job.clone();
            let handle = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                ocr_pages_blocking(&state2, &job2, &bytes, &done, &engine, translate.as_ref(), &handle)
            })
            .await?
        }
    }
}

/// Reads the pages not yet checkpointed with the engine's page driver (it
/// keeps the document's text-layer check), one inference permit per page.
fn ocr_pages_blocking(
    state: &AppState,
    job: &Job,
    bytes: &[u8],
    done: &HashSet<i64>,
    engine: &Arc<OcrEngine>,
    translate: Option<&(LlmClient, String)>,
    handle: &tokio::runtime::Handle,
) -> Result<(), JobError> {
    let source = Source::open(bytes, state.engines.limits())?;
    let mut pages = engine.pages(&source).skipping(|index| done.contains(&(index as i64)));
    loop {
        let permit = handle.block_on(state.inference.acquire()).map_err(|e| JobError::Internal(e.into()))?;
        let start = Instant::now();
        // A panic in a decoder or the runtime fails this page, not the server
        // (the driver has already moved on to the next page).
        let next = std::panic::catch_unwind(AssertUnwindSafe(|| pages.next()));
        drop(permit);
        let (index, page) = match next {
            Ok(None) => break,
            Ok(Some(Ok(read))) => (read.page.index, Ok(read.page)),
            Ok(Some(Err(failed))) => (failed.index, Err(PageFailure::Engine(failed.error))),
            Err(_) => (pages.position().saturating_sub(1), Err(PageFailure::Panicked)),
        };
        state.metrics.page_seconds.observe(start.elapsed().as_secs_f64());
        let page = match (page, translate) {
            (Ok(page), Some((llm, to))) => translate_page(&page, llm, to, handle),
            (page, _) => page,
        };
        save(state, job, index as i64, page, handle)?;
    }
    Ok(())
}

/// The page's Markdown translated by the chat model, as a page.
fn translate_page(
    page: &Page,
    llm: &LlmClient,
    to: &str,
    handle: &tokio::runtime::Handle,
) -> Result<Page, PageFailure> {
    let markdown = export(&Document::from_pages(vec![page.clone()]), ExportFormat::Md, None)?;
    let translated = handle.block_on(llm.translate_markdown(&String::from_utf8_lossy(&markdown), to))?;
    Ok(page_from_markdown(page.index, page.width, page.height, &translated.markdown))
}

/// Checkpoints one page's outcome (from a blocking thread).
fn save(
    state: &AppState,
    job: &Job,
    index: i64,
    page: Result<Page, PageFailure>,
    handle: &tokio::runtime::Handle,
) -> Result<(), JobError> {
    let record = match page {
        Ok(page) => {
            let json = serde_json::to_string(&page).map_err(|e| JobError::Internal(e.into()))?;
            PageRecord { index, page: Some(json), error: None }
        }
        Err(error) => {
            warn!(uuid = %job.uuid, index, error = %chain(&error), "page failed");
            PageRecord { index, page: None, error: Some(error.to_string()) }
        }
    };
    let outcome = if record.error.is_none() { "ok" } else { "failed" };
    state.metrics.pages.get_or_create(&OutcomeLabels { tier: job.tier.clone(), outcome: outcome.into() }).inc();
    handle.block_on(state.store.save_page(&job.uuid, &record, now()))?;
    Ok(())
}

/// Longest side of a page image sent to a VLM: what vision encoders use at
/// most; larger only costs tokens.
const VLM_MAX_SIDE: u32 = 2000;

/// The vlm tier: each page rendered, scaled to the VLM's input size, sent
/// to the configured model; its Markdown becomes the page.
async fn vlm_pages(
    state: &AppState,
    job: &Job,
    bytes: Arc<Vec<u8>>,
    done: &HashSet<i64>,
    vlm: &LlmClient,
    request: &PageRequest,
) -> Result<(), JobError> {
    let handle = tokio::runtime::Handle::current();
    for index in 0..job.page_count {
        if done.contains(&index) {
            continue;
        }
        let (bytes, limits) = (Arc::clone(&bytes), state.engines.limits());
        let rendered = tokio::task::spawn_blocking(move || page_png(&bytes, index as usize, limits)).await?;
        let page = match rendered {
            Ok((png, width, height)) => match vlm.transcribe_page(&png, request).await {
                Ok(t) => Ok(page_from_markdown(index as usize, width, height, &t.markdown)),
                Err(e) => Err(PageFailure::Llm(e)),
            },
            Err(e) => Err(e),
        };
        let (state, job, handle) = (state.clone(), job.clone(), handle.clone());
        tokio::task::spawn_blocking(move || save(&state, &job, index, page, &handle)).await??;
    }
    Ok(())
}

/// One page as PNG no larger than [`VLM_MAX_SIDE`], with its size.
fn page_png(bytes: &[u8], index: usize, limits: DecodeLimits) -> Result<(Vec<u8>, u32, u32), PageFailure> {
    let source = Source::open(bytes, limits)?;
    let mut img = source.page(index)?;
    let (w, h) = img.dimensions();
    if w.max(h) > VLM_MAX_SIDE {
        let scale = f64::from(VLM_MAX_SIDE) / f64::from(w.max(h));
        let (nw, nh) = (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1));
        img = image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle);
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(PageFailure::Encode)?;
    Ok((png, img.width(), img.height()))
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
    let error = (!failed.is_empty())
        .then(|| format!("{} of {} pages could not be read: {}", failed.len(), job.page_count, failed[0]));
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
    let rendered = tokio::task::spawn_blocking(move || -> Result<(), PdfFailure> {
        let bytes = std::fs::read(&upload)?;
        let original = Original::new(&bytes, limits);
        let pdf = std::panic::catch_unwind(AssertUnwindSafe(|| export(&doc, ExportFormat::Pdf, Some(original))))
            .map_err(|_| PdfFailure::Panicked)??;
        let tmp = target.with_extension("pdf.tmp");
        std::fs::write(&tmp, pdf)?;
        Ok(std::fs::rename(&tmp, &target)?)
    })
    .await;
    match rendered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(%uuid, error = %chain(&e), "searchable PDF not rendered"),
        Err(e) => warn!(%uuid, error = %e, "searchable PDF task failed"),
    }
}

/// Why the searchable PDF of a job was not written.
#[derive(Debug, thiserror::Error)]
enum PdfFailure {
    #[error("the upload could not be read or the PDF not written")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("panic while rendering")]
    Panicked,
}
