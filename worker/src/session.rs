//! What the worker does with a request, independent of how messages travel:
//! read a file page by page (emitting progress as it goes), keep the result
//! for exports, render exports with the engine's own exporters. A file
//! shared between workers ([`Role::Lead`], [`Role::Help`]) is read a page
//! per request; the lead assembles every worker's pages into the same job a
//! whole read keeps.

use std::collections::HashMap;
use std::sync::Arc;

use ocrchat_answer::{ChatRole, ChatTurn};

use ocrchat_engine::registry::{self, Plan};
use ocrchat_engine::tesseract::{Readers, routing_for};
use ocrchat_engine::{
    Charset, DecodeLimits, Document, EngineError, ExportFormat, InputFormat, ModelEngines, ModelSize, OcrEngine,
    Original, Page, PageError, PagePixels, Planned, Source, export, sniff,
};
use web_time::Instant;

use crate::protocol::{Response, Role};

/// Longest side of the page preview sent to the page. The result view is at
/// most screen-sized, and a 300-dpi A4 page at full size is 35 MB of RGBA.
pub const PREVIEW_MAX_SIDE: u32 = 1600;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// `ocr` before `load`.
    #[error("no model loaded")]
    NoModel,
    /// `export` of a job that is not (or no longer) here.
    #[error("no finished job {0}")]
    NoJob(u32),
    /// The file could not be opened or exported.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A page could not be read.
    #[error(transparent)]
    Page(#[from] PageError),
    /// A chat question the answerer refuses (empty, too long, control characters).
    #[error(transparent)]
    Question(#[from] ocrchat_answer::QuestionError),
    /// `read_page` or `add_page` for a page the file does not have.
    #[error("job {job} has no page {index}")]
    NoPage {
        /// The job.
        job: u32,
        /// The zero-based page asked for.
        index: u32,
    },
}

/// A finished job: kept so exports (the searchable PDF needs the original
/// pages) never go back to the page or a server.
struct Job {
    name: String,
    bytes: Vec<u8>,
    doc: Document,
    limits: DecodeLimits,
    /// The chat about this job so far, oldest first.
    conversation: Vec<ChatTurn>,
}

/// A file whose reading stopped for a Tesseract pack the host fetches
/// before [`Session::retry`].
struct Pending {
    job: u32,
    name: String,
    bytes: Vec<u8>,
    language: String,
    role: Role,
}

/// A file shared between workers, read a page per `read_page`.
struct Shared {
    name: String,
    /// The file, opened once: a PDF's source shares these bytes instead of
    /// copying them, so a page read costs no copy of the file and no parse.
    bytes: Arc<Vec<u8>>,
    source: Source<'static>,
    language: String,
    /// The lead's side: the pages so far (from any worker), by index.
    lead: Option<Assembly>,
}

/// A lead's start: the pages read from their text layer, those left to OCR.
struct PagePlan {
    pages: Vec<Option<Page>>,
    ocr: Vec<u32>,
    limits: DecodeLimits,
}

/// What a lead gathers until every page is in.
struct Assembly {
    pages: Vec<Option<Page>>,
    limits: DecodeLimits,
    start: Instant,
}

impl Pending {
    fn new(job: u32, name: &str, bytes: Vec<u8>, language: &str, role: Role) -> Self {
        Self { job, name: name.into(), bytes, language: language.into(), role }
    }
}

/// The worker's state: the loaded model, Tesseract's readers, the finished
/// jobs, the files shared with other workers.
#[derive(Default)]
pub struct Session {
    models: Option<ModelEngines>,
    tesseract: Option<Arc<Readers>>,
    jobs: HashMap<u32, Job>,
    shared: HashMap<u32, Shared>,
    pending: Option<Pending>,
}

impl SessionError {
    /// The Tesseract pack the file needs and the host has not loaded yet.
    pub fn pack_not_loaded(&self) -> Option<&str> {
        let engine = match self {
            SessionError::Engine(e) => e,
            SessionError::Page(p) => &p.error,
            _ => return None,
        };
        match engine {
            EngineError::PackNotLoaded { pack } => Some(pack),
            _ => None,
        }
    }
}

impl Session {
    /// An empty session (no model yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs a loaded model (replacing the one before).
    pub fn set_models(&mut self, models: ModelEngines) {
        self.models = Some(models);
    }

    /// Tesseract's readers (the host's packs), for the languages PP-OCR
    /// does not read and the script trial of `auto`.
    pub fn set_tesseract(&mut self, readers: Arc<Readers>) {
        self.tesseract = Some(readers);
    }

    /// The character set `language` is read with now: [`Charset::Latin`] (the
    /// pruned head) once a read in a Latin-script language has made it.
    pub fn charset(&self, language: &str) -> Option<Charset> {
        self.models.as_ref().map(|m| m.engine(language).config().charset)
    }

    /// The loaded model's size, if any.
    pub fn model(&self) -> Option<ModelSize> {
        self.models.as_ref().map(ModelEngines::size)
    }

    /// The answer to `sniff`: the file type of `head` (a file's first KiB)
    /// and whether this build reads it.
    pub fn sniff(job: u32, head: &[u8]) -> Response {
        let format = sniff(head).ok();
        let readable = format.is_some_and(|f| f != InputFormat::Pdf || cfg!(feature = "pdf"));
        Response::Sniffed { job, format, readable }
    }

    /// The engine that reads `language`: the loaded model with the page
    /// routing the language needs (the engine's one rule, [`routing_for`]),
    /// `None` when the loaded model reads it as it is.
    fn routed_engine(&self, language: &str) -> Result<Option<OcrEngine>, SessionError> {
        let models = self.models.as_ref().ok_or(SessionError::NoModel)?;
        let base = models.engine(language);
        let code = registry::canonical_language(language);
        let plan = models.plan(&code)?;
        let routing = match &self.tesseract {
            Some(readers) => routing_for(&code, &plan, readers)?,
            None => match plan {
                Plan::Tesseract(packs) => return Err(EngineError::LanguageNotInstalled { code, packs }.into()),
                Plan::Lines => None,
            },
        };
        Ok(routing.map(|routing| base.with_routing(routing)))
    }

    /// Makes the loaded model's engine for `language` (its CTC head pruned
    /// to the language's characters, as native hosts read it) before a read.
    fn prepare(&mut self, language: &str) -> Result<(), SessionError> {
        self.models.as_mut().ok_or(SessionError::NoModel)?.prepare(language)?;
        Ok(())
    }

    /// Reads every page of `bytes` in `language`, calling `emit` with
    /// `opened`, one `page` (with its RGBA preview) per page, then `done`.
    /// On error nothing more is emitted and the reason is returned (the
    /// caller reports it) — except a Tesseract pack not loaded yet
    /// ([`SessionError::pack_not_loaded`]): the file is kept, and
    /// [`Self::retry`] reads it again once the host has the pack.
    pub fn ocr(
        &mut self,
        job: u32,
        name: &str,
        bytes: Vec<u8>,
        language: &str,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(), SessionError> {
        let start = Instant::now();
        let read = self.prepare(language).and_then(|()| self.read(job, &bytes, language, emit));
        let (doc, limits) = match read {
            Ok(read) => read,
            Err(e) => return Err(self.keep_for_pack(e, Pending::new(job, name, bytes, language, Role::Whole))),
        };
        let kept = Job { name: name.to_string(), bytes, doc, limits, conversation: Vec::new() };
        self.finish(job, kept, start, emit)
    }

    /// Emits `done` for a read document and keeps the job for exports and chat.
    fn finish(
        &mut self,
        job: u32,
        kept: Job,
        start: Instant,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(), SessionError> {
        let doc = &kept.doc;
        let markdown = String::from_utf8_lossy(&export(doc, ExportFormat::Md, None)?).into_owned();
        emit(
            Response::Done {
                job,
                text: doc.text(),
                markdown,
                mean_confidence: doc.mean_confidence,
                millis: start.elapsed().as_secs_f64() * 1000.0,
            },
            None,
        );
        self.jobs.insert(job, kept);
        Ok(())
    }

    /// `e` as it is, keeping the file in `pending` for [`Self::retry`] when
    /// it waits for a Tesseract pack the host has not loaded yet.
    fn keep_for_pack(&mut self, e: SessionError, pending: Pending) -> SessionError {
        if e.pack_not_loaded().is_some() {
            self.pending = Some(pending);
        }
        e
    }

    /// Leads a read shared with other workers: `opened`, then the pages read
    /// from their text layer (decided in page order, as a whole read decides
    /// them, so the document is the same), then `planned` with the pages left
    /// for `read_page`; `done` at once when none is left. A one-page file is
    /// read whole ([`Self::ocr`]): there is nothing to share.
    pub fn lead(
        &mut self,
        job: u32,
        name: &str,
        bytes: Vec<u8>,
        language: &str,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(), SessionError> {
        let start = Instant::now();
        let planned = self.prepare(language).and_then(|()| self.plan(job, &bytes, language, emit));
        let PagePlan { pages, ocr, limits } = match planned {
            Ok(Some(planned)) => planned,
            Ok(None) => return self.ocr(job, name, bytes, language, emit),
            Err(e) => return Err(self.keep_for_pack(e, Pending::new(job, name, bytes, language, Role::Lead))),
        };
        emit(Response::Planned { job, ocr }, None);
        let lead = Some(Assembly { pages, limits, start });
        self.share(job, name, bytes, language, limits, lead)?;
        self.finish_shared(job, emit)
    }

    /// The text-layer pages of a multi-page file (emitted as `page`s) and the
    /// indices left to OCR; `None` for a one-page file.
    fn plan(
        &self,
        job: u32,
        bytes: &[u8],
        language: &str,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<Option<PagePlan>, SessionError> {
        let routed = self.routed_engine(language)?;
        let engine = self.engine_for(&routed, language)?;
        let source = Source::open(bytes, engine.config().limits)?;
        let total = source.page_count() as u32;
        if total <= 1 {
            return Ok(None);
        }
        emit(Response::Opened { job, pages: total, format: source.format() }, None);
        let mut pages = vec![None; total as usize];
        let mut ocr = Vec::new();
        let mut reader = engine.pages(&source).with_images();
        while let Some(step) = reader.plan() {
            match step {
                Planned::Ocr(index) => ocr.push(index as u32),
                Planned::Read(read) => {
                    let read = read?;
                    let index = read.page.index as u32;
                    let (preview_width, preview_height, rgba) = read.image.as_ref().map(preview).unwrap_or_default();
                    let page = read.page.clone();
                    emit(Response::Page { job, index, pages: total, page, preview_width, preview_height }, Some(rgba));
                    if let Some(slot) = pages.get_mut(index as usize) {
                        *slot = Some(read.page);
                    }
                }
            }
        }
        Ok(Some(PagePlan { pages, ocr, limits: engine.config().limits }))
    }

    /// Keeps a file to help a lead: its pages are read on `read_page`.
    pub fn help(&mut self, job: u32, name: &str, bytes: Vec<u8>, language: &str) -> Result<(), SessionError> {
        // Opened once here so a file this worker cannot read fails now, not
        // on each page.
        self.prepare(language)?;
        let routed = self.routed_engine(language)?;
        let limits = self.engine_for(&routed, language)?.config().limits;
        self.share(job, name, bytes, language, limits, None)
    }

    /// Keeps `bytes` as a shared file, opened once for every page read.
    fn share(
        &mut self,
        job: u32,
        name: &str,
        bytes: Vec<u8>,
        language: &str,
        limits: DecodeLimits,
        lead: Option<Assembly>,
    ) -> Result<(), SessionError> {
        let bytes = Arc::new(bytes);
        let source = Source::open_shared(Arc::clone(&bytes), limits)?;
        let (name, language) = (name.into(), language.into());
        self.shared.insert(job, Shared { name, bytes, source, language, lead });
        Ok(())
    }

    /// Reads page `index` of a shared file: `page` with its preview; a lead
    /// keeps it (and answers `done` if it was the last one missing).
    pub fn read_page(
        &mut self,
        job: u32,
        index: u32,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(), SessionError> {
        // The model may have been switched since `lead`/`help` prepared it.
        let language = self.shared.get(&job).ok_or(SessionError::NoJob(job))?.language.clone();
        self.prepare(&language)?;
        let shared = self.shared.get(&job).ok_or(SessionError::NoJob(job))?;
        if index as usize >= shared.source.page_count() {
            return Err(SessionError::NoPage { job, index });
        }
        let routed = self.routed_engine(&shared.language)?;
        let engine = self.engine_for(&routed, &shared.language)?;
        let (page, upright) = engine
            .ocr_page(&shared.source, index as usize)
            .map_err(|error| PageError { index: index as usize, error })?;
        let (preview_width, preview_height, rgba) = preview(&upright);
        drop(upright);
        let total = shared.source.page_count() as u32;
        emit(
            Response::Page { job, index, pages: total, page: page.clone(), preview_width, preview_height },
            Some(rgba),
        );
        self.add_page(job, page, emit)
    }

    /// A page of a shared file read by this worker or another: a lead keeps
    /// it and answers `done` once it has every page; a helper drops it.
    pub fn add_page(
        &mut self,
        job: u32,
        page: Page,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(), SessionError> {
        let shared = self.shared.get_mut(&job).ok_or(SessionError::NoJob(job))?;
        let Some(lead) = shared.lead.as_mut() else { return Ok(()) };
        let index = page.index;
        let slot = lead.pages.get_mut(index).ok_or(SessionError::NoPage { job, index: index as u32 })?;
        *slot = Some(page);
        self.finish_shared(job, emit)
    }

    /// A lead's job with every page in: `done`, and kept as a whole read keeps it.
    fn finish_shared(&mut self, job: u32, emit: &mut dyn FnMut(Response, Option<Vec<u8>>)) -> Result<(), SessionError> {
        let complete = self
            .shared
            .get(&job)
            .and_then(|s| s.lead.as_ref())
            .is_some_and(|lead| lead.pages.iter().all(Option::is_some));
        if !complete {
            return Ok(());
        }
        let Some(Shared { name, bytes, source, lead: Some(lead), .. }) = self.shared.remove(&job) else {
            return Ok(());
        };
        // The source holds the other handle on the bytes: without it they are the job's own again.
        drop(source);
        let bytes = Arc::try_unwrap(bytes).unwrap_or_else(|shared| shared.as_ref().clone());
        let doc = Document::from_pages(lead.pages.into_iter().flatten().collect());
        let kept = Job { name, bytes, doc, limits: lead.limits, conversation: Vec::new() };
        self.finish(job, kept, lead.start, emit)
    }

    /// Reads the file of `job` again, kept when it stopped for a pack; the
    /// host emits `opened` and every page afresh.
    pub fn retry(&mut self, job: u32, emit: &mut dyn FnMut(Response, Option<Vec<u8>>)) -> Result<(), SessionError> {
        let p = self.pending.take().filter(|p| p.job == job).ok_or(SessionError::NoJob(job))?;
        match p.role {
            Role::Lead => self.lead(p.job, &p.name, p.bytes, &p.language, emit),
            Role::Whole | Role::Help => self.ocr(p.job, &p.name, p.bytes, &p.language, emit),
        }
    }

    /// Drops the file kept for [`Self::retry`] when the host cannot get the pack.
    pub fn abandon(&mut self, job: u32) {
        self.pending.take_if(|p| p.job == job);
    }

    /// The engine to read `language` with: the routed one when the language
    /// needs one, else the loaded model's.
    fn engine_for<'e>(&'e self, routed: &'e Option<OcrEngine>, language: &str) -> Result<&'e OcrEngine, SessionError> {
        match (routed, &self.models) {
            (Some(routed), _) => Ok(routed),
            (None, Some(models)) => Ok(models.engine(language)),
            (None, None) => Err(SessionError::NoModel),
        }
    }

    fn read(
        &self,
        job: u32,
        bytes: &[u8],
        language: &str,
        emit: &mut dyn FnMut(Response, Option<Vec<u8>>),
    ) -> Result<(Document, DecodeLimits), SessionError> {
        let routed = self.routed_engine(language)?;
        let engine = self.engine_for(&routed, language)?;
        let source = Source::open(bytes, engine.config().limits)?;
        let total = source.page_count() as u32;
        emit(Response::Opened { job, pages: total, format: source.format() }, None);
        let mut pages = Vec::with_capacity(total as usize);
        for read in engine.pages(&source).with_images() {
            let read = read?;
            let (preview_width, preview_height, rgba) = read.image.as_ref().map(preview).unwrap_or_default();
            let index = read.page.index as u32;
            emit(
                Response::Page { job, index, pages: total, page: read.page.clone(), preview_width, preview_height },
                Some(rgba),
            );
            pages.push(read.page);
        }
        Ok((Document::from_pages(pages), engine.config().limits))
    }

    /// Renders a finished job in `format`: the `exported` message and the
    /// file. The searchable PDF is drawn from the original file, as on the
    /// CLI and the server.
    pub fn export(&self, job: u32, format: ExportFormat) -> Result<(Response, Vec<u8>), SessionError> {
        let j = self.jobs.get(&job).ok_or(SessionError::NoJob(job))?;
        let bytes = export(&j.doc, format, Some(Original::new(&j.bytes, j.limits)))?;
        let stem = j.name.rsplit_once('.').map_or(j.name.as_str(), |(s, _)| s);
        let stem = if stem.is_empty() { "document" } else { stem };
        let msg = Response::Exported {
            job,
            format,
            filename: format!("{stem}.{}", format.extension()),
            mime: format.content_type().to_string(),
        };
        Ok((msg, bytes))
    }

    /// Answers `question` about a finished job with the built-in answerer
    /// (the server's, compiled in: same text, same answer), keeping the turn.
    pub fn ask(&mut self, job: u32, question: &str) -> Result<Response, SessionError> {
        let j = self.jobs.get_mut(&job).ok_or(SessionError::NoJob(job))?;
        let question = ocrchat_answer::check_question(question)?;
        let pages: Vec<String> = j.doc.pages.iter().map(|p| p.text.clone()).collect();
        let answer = ocrchat_answer::answer(&pages, &j.conversation, question);
        j.conversation.push(ChatTurn { role: ChatRole::User, content: question.to_string() });
        j.conversation.push(ChatTurn { role: ChatRole::Assistant, content: answer.content.clone() });
        Ok(Response::Answer {
            job,
            question: question.to_string(),
            content: answer.content,
            citations: answer.citations,
        })
    }

    /// Drops a job's bytes and document (or its shared file).
    pub fn forget(&mut self, job: u32) {
        self.jobs.remove(&job);
        self.shared.remove(&job);
        self.pending.take_if(|p| p.job == job);
    }
}

/// RGBA pixels of `img` scaled to fit [`PREVIEW_MAX_SIDE`] (ImageData's layout).
pub fn preview(img: &PagePixels) -> (u32, u32, Vec<u8>) {
    let (w, h) = img.dimensions();
    let scale = (PREVIEW_MAX_SIDE as f32 / w.max(h) as f32).min(1.0);
    let (pw, ph) = (((w as f32 * scale).round() as u32).max(1), ((h as f32 * scale).round() as u32).max(1));
    // thumbnail: area averaging, fast and sharp enough for text at this size.
    let rgba = match img {
        PagePixels::Grey(img) => rgba_of(img, (pw, ph), |p| [p[0], p[0], p[0], 255]),
        PagePixels::Rgb(img) => rgba_of(img, (pw, ph), |p| [p[0], p[1], p[2], 255]),
    };
    (pw, ph, rgba)
}

/// `img` at `size` (itself when it already has that size) as RGBA bytes.
fn rgba_of<P: image::Pixel<Subpixel = u8> + 'static>(
    img: &image::ImageBuffer<P, Vec<u8>>,
    (pw, ph): (u32, u32),
    rgba: impl Fn(&P) -> [u8; 4],
) -> Vec<u8> {
    let small;
    let shown = if img.dimensions() == (pw, ph) {
        img
    } else {
        small = image::imageops::thumbnail(img, pw, ph);
        &small
    };
    shown.pixels().flat_map(rgba).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    #[test]
    fn preview_fits_the_bound_and_keeps_the_aspect() {
        let img = RgbImage::from_pixel(2480, 3508, image::Rgb([10, 20, 30])).into();
        let (w, h, rgba) = preview(&img);
        assert_eq!(h, PREVIEW_MAX_SIDE);
        assert_eq!(w, 1131);
        assert_eq!(rgba.len(), (w * h * 4) as usize);
        assert_eq!(&rgba[..4], &[10, 20, 30, 255]);
        let grey = image::GrayImage::from_pixel(2480, 3508, image::Luma([40])).into();
        assert_eq!(preview(&grey), (w, h, [40, 40, 40, 255].repeat((w * h) as usize)), "grey pages show grey");
        let (w, h, _) = preview(&RgbImage::new(300, 200).into());
        assert_eq!((w, h), (300, 200), "small pages are not enlarged");
    }

    #[test]
    fn without_a_model_ocr_and_export_fail_cleanly() {
        let mut s = Session::new();
        let mut n = 0;
        let err = s.ocr(1, "a.png", vec![1, 2, 3], "auto", &mut |_, _| n += 1).unwrap_err();
        assert!(matches!(err, SessionError::NoModel), "{err}");
        assert_eq!(n, 0);
        assert!(matches!(s.export(1, ExportFormat::Txt), Err(SessionError::NoJob(1))));
        assert!(matches!(s.ask(1, "What is the total?"), Err(SessionError::NoJob(1))));
    }

    #[test]
    fn a_shared_read_without_its_model_or_file_fails_cleanly() {
        let mut s = Session::new();
        let mut n = 0;
        let err = s.lead(1, "a.pdf", vec![1, 2, 3], "auto", &mut |_, _| n += 1).unwrap_err();
        assert!(matches!(err, SessionError::NoModel), "{err}");
        assert!(matches!(s.help(1, "a.pdf", vec![1, 2, 3], "auto"), Err(SessionError::NoModel)));
        assert!(matches!(s.read_page(1, 0, &mut |_, _| n += 1), Err(SessionError::NoJob(1))));
        let stray = Page { index: 7, ..Page::default() };
        assert!(matches!(s.add_page(1, stray, &mut |_, _| n += 1), Err(SessionError::NoJob(1))));
        assert_eq!(n, 0, "nothing but the errors");
        s.forget(1);
    }

    #[test]
    fn sniffing_names_the_type_and_whether_this_build_reads_it() {
        let pdf = Session::sniff(4, b"%PDF-1.7\n");
        assert_eq!(pdf, Response::Sniffed { job: 4, format: Some(InputFormat::Pdf), readable: cfg!(feature = "pdf") });
        let png = Session::sniff(5, b"\x89PNG\r\n\x1a\n");
        assert_eq!(png, Response::Sniffed { job: 5, format: Some(InputFormat::Png), readable: true });
        let other = Session::sniff(6, b"hello");
        assert_eq!(other, Response::Sniffed { job: 6, format: None, readable: false });
    }
}
