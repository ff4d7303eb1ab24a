//! Running one job: its pages are recognised on the inference pool
//! (`pool`: `workers` pages at once across all jobs, never on the async
//! runtime), several of one job at a time, each checkpointed in the database
//! as it finishes, so a job interrupted by a crash resumes where it stopped
//! (the result is assembled by page index, whatever order pages finished in).
//! At most one page per slot is decoded at a time. When the last page is in,
//! the document is assembled, the searchable PDF is rendered from the upload
//! (the only time the page images exist), and the upload is deleted.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use ocrchat_engine::{
    DecodeLimits, Document, EngineError, ExportFormat, OcrEngine, Original, Page, Planned, Source, export,
};
use tracing::{info, warn};

use crate::blobs::{BlobError, BlobKind};
use crate::error::{BoxError, chain, file_error_message};
use crate::llm::{LlmClient, LlmError, PageRequest, Tier, Tool, page_from_markdown};
use crate::metrics::OutcomeLabels;
use crate::pool::{PoolClosed, Slot};
use crate::state::AppState;
use crate::store::{Finish, Job, JobStatus, PageRecord, StoreError};

/// Unix seconds now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
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

impl From<PoolClosed> for JobError {
    fn from(e: PoolClosed) -> Self {
        JobError::Internal(e.into())
    }
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
        // A failed job delivers no page (downloads answer 409), so none stays charged.
        Err(e) => {
            warn!(uuid = %job.uuid, error = %chain(&e), "job failed");
            Finish {
                status: JobStatus::Failed,
                error: Some(e.to_string()),
                result: None,
                refund_pages: job.page_count,
                claim: None,
            }
        }
    };
    let finish = Finish { claim: job.worker.clone(), ..finish };
    match state.store.finish(&job.uuid, &finish, now()).await {
        Ok(()) => {}
        // Requeued while this attempt ran (its heartbeat went stale): the attempt that took
        // over finishes the job; this one's pages are already checkpointed for it.
        Err(StoreError::ClaimLost(_)) => {
            warn!(uuid = %job.uuid, "job was requeued while this attempt ran; leaving it to the new attempt");
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    // Left behind on failure, the sweep removes it later (the job no longer refers to it).
    if let Err(e) = state.blobs.delete(BlobKind::Upload, &job.uuid).await {
        warn!(uuid = %job.uuid, error = %e, "could not delete the upload");
    }
    let outcome = finish.status.as_str();
    state.metrics.jobs.get_or_create(&OutcomeLabels { tier: job.tier.as_str().into(), outcome: outcome.into() }).inc();
    info!(uuid = %job.uuid, pages = job.page_count, outcome, ms = started.elapsed().as_millis() as u64, "job finished");
    Ok(())
}

/// Recognises every page not yet checkpointed.
async fn recognise_pages(state: &AppState, job: &Job) -> Result<(), JobError> {
    let key = job.upload.as_deref().ok_or(JobError::UploadGone)?;
    let local = state.blobs.local(BlobKind::Upload, key, &state.uploads_dir).await.map_err(StoreError::from)?;
    let local = local.ok_or(JobError::UploadGone)?;
    let bytes = Arc::new(tokio::fs::read(local.path()).await.map_err(JobError::UploadUnreadable)?);
    drop(local);
    let done: HashSet<i64> = state.store.pages(&job.uuid).await?.iter().map(|p| p.index).collect();
    if done.len() as i64 >= job.page_count {
        return Ok(());
    }
    let tool = job.tool;
    match job.tier {
        Tier::Vlm => {
            let vlm = state.vlm.clone().ok_or(JobError::NotConfigured("the vlm tier"))?;
            let request = PageRequest { language: job.language.clone(), tool, translate_to: job.translate_to.clone() };
            vlm_pages(state, job, bytes, &done, &vlm, &request).await
        }
        Tier::Cpu => {
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
                ocr_pages_blocking(&state2, &job2, bytes, &done, &engine, translate.as_ref(), &handle)
            })
            .await?
        }
    }
}

/// What one page read on the pool sends back to its job.
struct PageOutcome {
    index: usize,
    page: Result<Page, PageFailure>,
    seconds: f64,
}

/// What the job runner waits for next.
enum Step {
    /// A page came back from the pool.
    Finished(PageOutcome),
    /// A slot is free: decide the next page.
    Slot(Result<Slot, PoolClosed>),
}

/// Reads the pages not yet checkpointed. The engine's page driver decides
/// each page in order on this thread (it keeps the document's text-layer
/// check; a text-layer page is read here, under a slot); every page that
/// needs OCR goes to the inference pool with its slot, so a job has as many
/// pages in flight as slots it gets. Finished pages are translated (when
/// asked) and checkpointed here as they come back, in whatever order.
fn ocr_pages_blocking(
    state: &AppState,
    job: &Job,
    bytes: Arc<Vec<u8>>,
    done: &HashSet<i64>,
    engine: &Arc<OcrEngine>,
    translate: Option<&(LlmClient, String)>,
    handle: &tokio::runtime::Handle,
) -> Result<(), JobError> {
    let source = Arc::new(Source::open_shared(bytes, state.engines.limits())?);
    let mut pages = engine.pages(&source).skipping(|index| done.contains(&(index as i64)));
    let (sender, mut finished) = tokio::sync::mpsc::unbounded_channel::<PageOutcome>();
    let (mut in_flight, mut all_planned) = (0usize, false);
    // After a storage error no new page starts; the ones in flight are awaited.
    let mut outcome: Result<(), JobError> = Ok(());
    loop {
        let plan_more = !all_planned && outcome.is_ok();
        if !plan_more && in_flight == 0 {
            break;
        }
        let step = handle.block_on(async {
            tokio::select! {
                // A finished page is checkpointed before the next one starts.
                biased;
                Some(page) = finished.recv(), if in_flight > 0 => Some(Step::Finished(page)),
                slot = state.pool.slot(), if plan_more => Some(Step::Slot(slot)),
                else => None,
            }
        });
        let finished_page = match step {
            // Unreachable (this thread holds a sender); ends the loop rather than spinning.
            None => return Err(JobError::Internal("a page was lost on the inference pool".into())),
            Some(Step::Finished(page)) => {
                in_flight -= 1;
                page
            }
            Some(Step::Slot(slot)) => {
                let slot = slot?;
                let start = Instant::now();
                // A panic in a decoder fails this page, not the server (the
                // driver has already moved on to the next page).
                let seconds = || start.elapsed().as_secs_f64();
                match std::panic::catch_unwind(AssertUnwindSafe(|| pages.plan())) {
                    Ok(None) => {
                        all_planned = true;
                        continue;
                    }
                    Ok(Some(Planned::Ocr(index))) => {
                        in_flight += 1;
                        let (engine, source, sender) = (Arc::clone(engine), Arc::clone(&source), sender.clone());
                        state.pool.run(slot, move || {
                            let start = Instant::now();
                            let read = std::panic::catch_unwind(AssertUnwindSafe(|| engine.ocr_page(&source, index)));
                            let page = match read {
                                // The page image is freed here, on the pool thread that made it.
                                Ok(Ok((page, _image))) => Ok(page),
                                Ok(Err(e)) => Err(PageFailure::Engine(e)),
                                Err(_) => Err(PageFailure::Panicked),
                            };
                            // What the page freed goes back to the system before the next one starts.
                            crate::alloc::release_freed();
                            let _ = sender.send(PageOutcome { index, page, seconds: start.elapsed().as_secs_f64() });
                        });
                        continue;
                    }
                    Ok(Some(Planned::Read(Ok(read)))) => {
                        PageOutcome { index: read.page.index, page: Ok(read.page), seconds: seconds() }
                    }
                    Ok(Some(Planned::Read(Err(failed)))) => PageOutcome {
                        index: failed.index,
                        page: Err(PageFailure::Engine(failed.error)),
                        seconds: seconds(),
                    },
                    Err(_) => PageOutcome {
                        index: pages.position().saturating_sub(1),
                        page: Err(PageFailure::Panicked),
                        seconds: seconds(),
                    },
                }
            }
        };
        if outcome.is_err() {
            continue;
        }
        state.metrics.page_seconds.observe(finished_page.seconds);
        let page = match (finished_page.page, translate) {
            (Ok(page), Some((llm, to))) => translate_page(&page, llm, to, handle),
            (page, _) => page,
        };
        outcome = save(state, job, finished_page.index as i64, page, handle);
    }
    outcome
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
    state.metrics.pages.get_or_create(&OutcomeLabels { tier: job.tier.as_str().into(), outcome: outcome.into() }).inc();
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
        return Ok(Finish { status: JobStatus::Failed, error: Some(error), result: None, refund_pages, claim: None });
    }
    let doc = Document::from_pages(pages);
    write_searchable_pdf(state, job, &doc).await;
    // A document of our own types always serialises; an error here would be a bug, and is reported as the job's.
    let result = match serde_json::to_string(&doc) {
        Ok(json) => json,
        Err(e) => {
            let error = Some(format!("the result could not be stored: {e}"));
            return Ok(Finish {
                status: JobStatus::Failed,
                error,
                result: None,
                refund_pages: job.page_count,
                claim: None,
            });
        }
    };
    let error = (!failed.is_empty())
        .then(|| format!("{} of {} pages could not be read: {}", failed.len(), job.page_count, failed[0]));
    Ok(Finish { status: JobStatus::Done, error, result: Some(result), refund_pages, claim: None })
}

/// Renders the searchable PDF while the upload still exists. A failure here
/// does not fail the job (every other format still works); the PDF download
/// then reports it.
async fn write_searchable_pdf(state: &AppState, job: &Job, doc: &Document) {
    let uuid = job.uuid.clone();
    if let Err(e) = render_searchable_pdf(state, job, doc).await {
        warn!(%uuid, error = %chain(&e), "searchable PDF not rendered");
    }
}

async fn render_searchable_pdf(state: &AppState, job: &Job, doc: &Document) -> Result<(), PdfFailure> {
    let key = job.upload.as_deref().ok_or(PdfFailure::UploadGone)?;
    let upload = state.blobs.local(BlobKind::Upload, key, &state.uploads_dir).await?;
    let upload = upload.ok_or(PdfFailure::UploadGone)?;
    let tmp = state.results_dir.join(format!("{}.pdf.tmp", job.uuid));
    let (limits, doc, source, target) = (state.engines.limits(), doc.clone(), upload.path().to_path_buf(), tmp.clone());
    tokio::task::spawn_blocking(move || -> Result<(), PdfFailure> {
        let bytes = std::fs::read(&source)?;
        let original = Original::new(&bytes, limits);
        let pdf = std::panic::catch_unwind(AssertUnwindSafe(|| export(&doc, ExportFormat::Pdf, Some(original))))
            .map_err(|_| PdfFailure::Panicked)??;
        Ok(std::fs::write(&target, pdf)?)
    })
    .await
    .map_err(|e| PdfFailure::Task(e.into()))??;
    drop(upload);
    let kept = state.blobs.put(BlobKind::ResultPdf, &job.uuid, &tmp).await;
    if kept.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    Ok(kept?)
}

/// Why the searchable PDF of a job was not written.
#[derive(Debug, thiserror::Error)]
enum PdfFailure {
    #[error("the upload is gone")]
    UploadGone,
    #[error("the upload could not be read or the PDF not written")]
    Io(#[from] std::io::Error),
    #[error("the blob store failed")]
    Blob(#[from] BlobError),
    #[error("the rendering task failed")]
    Task(#[source] BoxError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("panic while rendering")]
    Panicked,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::config::Config;
    use crate::testing::{Scratch, charge, fake_vlm, pdf, state, vlm_job};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_runs_every_page_checkpoints_them_and_deletes_its_upload() {
        let dir = Scratch::new("jobs-ok");
        let vlm = fake_vlm(&[]).await;
        let state = state(&dir, Some(&vlm), Config::default()).await;
        let job = vlm_job(&state, "j1", &pdf(3), 3, &charge(), true).await;
        let upload = state.uploads_dir.join("j1");
        assert!(upload.exists());
        process(&state, job).await.unwrap();

        let done = state.store.job("j1").await.unwrap().unwrap();
        assert_eq!((done.status, done.pages_done, done.pages_failed, done.error), (JobStatus::Done, 3, 0, None));
        let doc: Document = serde_json::from_str(&state.store.result("j1").await.unwrap().unwrap()).unwrap();
        let texts: Vec<String> = doc.pages.iter().map(|p| p.text.trim().to_string()).collect();
        assert_eq!(texts, ["page 1", "page 2", "page 3"], "pages in order, one model call each");
        assert_eq!(vlm.requests.load(Ordering::SeqCst), 3);
        assert!(!upload.exists(), "the upload is deleted when the job ends");
        let pdf = state.blobs.local(BlobKind::ResultPdf, "j1", &dir.0).await.unwrap().expect("the searchable PDF");
        assert!(std::fs::read(pdf.path()).unwrap().starts_with(b"%PDF-"));
        assert_eq!(state.store.used("acct:1", "credits").await.unwrap(), 3, "every page delivered, none refunded");
        assert!(state.running_jobs().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_resumed_job_skips_its_checkpointed_pages() {
        let dir = Scratch::new("jobs-resume");
        let vlm = fake_vlm(&[]).await;
        let state = state(&dir, Some(&vlm), Config::default()).await;
        let job = vlm_job(&state, "j2", &pdf(3), 3, &charge(), true).await;
        // The first attempt got page 1 in before the process died.
        let earlier = Page { index: 1, text: "from before".into(), ..Page::default() };
        let record = PageRecord { index: 1, page: Some(serde_json::to_string(&earlier).unwrap()), error: None };
        state.store.save_page("j2", &record, now()).await.unwrap();
        process(&state, job).await.unwrap();

        assert_eq!(vlm.requests.load(Ordering::SeqCst), 2, "only the two missing pages went to the model");
        let doc: Document = serde_json::from_str(&state.store.result("j2").await.unwrap().unwrap()).unwrap();
        assert_eq!(doc.pages[1].text.trim(), "from before");
        assert_eq!(state.store.job("j2").await.unwrap().unwrap().pages_done, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_page_is_refunded_and_a_failed_job_refunds_every_page() {
        let dir = Scratch::new("jobs-fail");
        // The model fails the second request (page 2 of j3).
        let vlm = fake_vlm(&[2]).await;
        let state = state(&dir, Some(&vlm), Config { llm_timeout_secs: 5, ..Config::default() }).await;
        let job = vlm_job(&state, "j3", &pdf(3), 3, &charge(), true).await;
        process(&state, job).await.unwrap();
        let done = state.store.job("j3").await.unwrap().unwrap();
        assert_eq!((done.status, done.pages_failed), (JobStatus::Done, 1));
        assert!(done.error.as_deref().is_some_and(|e| e.starts_with("1 of 3 pages")), "{:?}", done.error);
        assert_eq!(state.store.used("acct:1", "credits").await.unwrap(), 2, "the failed page is refunded");

        // A job whose upload vanished fails and keeps no page charged.
        let job = vlm_job(&state, "j4", &pdf(2), 2, &charge(), true).await;
        std::fs::remove_file(state.uploads_dir.join("j4")).unwrap();
        process(&state, job).await.unwrap();
        let failed = state.store.job("j4").await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(
            failed
                .error
                .as_deref()
                .is_some_and(|e| e.contains("no longer available") || e.contains("could not be read"))
        );
        assert_eq!(state.store.used("acct:1", "credits").await.unwrap(), 2, "both pages of the failed job refunded");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_vlm_job_on_a_server_without_a_vlm_fails_cleanly() {
        let dir = Scratch::new("jobs-novlm");
        let state = state(&dir, None, Config::default()).await;
        let job = vlm_job(&state, "j5", &pdf(1), 1, &charge(), true).await;
        process(&state, job).await.unwrap();
        let failed = state.store.job("j5").await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.error.as_deref().is_some_and(|e| e.contains("no longer configured")), "{:?}", failed.error);
        assert_eq!(state.store.used("acct:1", "credits").await.unwrap(), 0);
    }
}
