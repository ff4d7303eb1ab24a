//! The OCR pipeline: one public method per stage plus one-call shortcuts.

use std::sync::Arc;

use tracing::debug;
use web_time::Instant;

use crate::cpu_clock::{cpu_ms_between, process_cpu_ms};
use crate::decode::{DecodeLimits, Source};
use crate::detect::{DetParams, TextRegion};
use crate::document::{Document, Page, PageSource};
use crate::error::Result;
use crate::geometry::Quad;
use crate::layout::LayoutParams;
use crate::model::{DetectionModel, PageRead, PageRecognizer, ScriptRouter, TextRecognizer};
use crate::pixels::PagePixels;
use crate::recognize::{RecParams, RecognizedLine};
use crate::{detect, layout};

/// The page driver.
mod pages;
/// Born-digital PDF pages read from their text layer.
#[cfg(feature = "pdf")]
mod text_layer;

pub use pages::{PageError, PageReader, Planned, ReadPage};

/// All tunables of the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EngineConfig {
    /// Detection settings.
    pub det: DetParams,
    /// Recognition settings.
    pub rec: RecParams,
    /// Layout settings.
    pub layout: LayoutParams,
    /// Input bounds.
    pub limits: DecodeLimits,
    /// Skip page orientation detection (saves time on known-upright input).
    pub assume_upright: bool,
    /// OCR PDF pages even when they have a usable text layer.
    pub force_ocr: bool,
    /// The characters the recogniser may emit (from the requested language,
    /// [`crate::registry::charset_for`]); narrower sets load a pruned, faster head.
    pub charset: crate::Charset,
    /// Which runtime executes the networks (native: onnxruntime when
    /// installed, else rten; wasm32: always rten).
    pub runtime: crate::Runtime,
    /// Read lines with the int8 recogniser ([`crate::INT8_REC_FILE`], made by
    /// `make models` for the small model) where the runtime is onnxruntime
    /// and the model has one; float everywhere else (rten runs quantised
    /// graphs in float, slower than the float graph).
    pub int8: bool,
    /// Intra-op threads of one onnxruntime run (0 = one per core). rten's
    /// pool is process-wide and sized by `RTEN_NUM_THREADS` instead.
    pub threads: usize,
    /// onnxruntime runs one engine serves at once, each with its own session
    /// (the server's workers). 0 or 1: callers take turns, and the graph bytes
    /// are not kept after loading (less memory for the CLI).
    pub sessions: usize,
    /// A long-running server's memory mode (onnxruntime): detector runs give
    /// their working memory back when they end instead of keeping it in a
    /// per-session arena, and at most half of `sessions` (rounded up) run
    /// the detector at once. Memory then follows the pages in flight, not
    /// every session's largest page; see `SessionPool::make` for the
    /// measured cost. The recogniser keeps its arena: a line's working set
    /// is small, and giving it back after each of a page's ~100 lines cost
    /// a quarter of the page's CPU in page faults. The server and the CLI
    /// turn it on (the CLI's A4 page: 393 → 275 MiB peak RSS with small).
    pub bounded_memory: bool,
}

#[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
impl EngineConfig {
    /// How the recogniser's onnxruntime sessions run. They keep their arenas
    /// even with `bounded_memory` (and give them back after each page's last
    /// line, see `onnxruntime::AfterRun`): mapping and faulting a line's
    /// working set in again for every line cost the A4 page (small, one
    /// thread) 9.6 s of CPU instead of 7.5 s at the same peak RSS
    /// (`levers --bounded-memory`, 276 vs 279 MB), and the server +19% CPU.
    /// They run without a memory pattern: every line has its own width.
    pub(crate) fn session_settings(&self) -> crate::onnxruntime::SessionSettings {
        crate::onnxruntime::SessionSettings {
            threads: self.threads,
            sessions: self.sessions,
            release_memory: false,
            varying_shapes: true,
        }
    }

    /// How the detector's sessions run: with `bounded_memory`, without
    /// arenas and half as many (rounded up). The detector's activations on a 300-dpi page are the
    /// largest working set of a page (hundreds of MB with the small model),
    /// and detection is about a quarter of a page's time, so half the
    /// workers detecting at once keeps up; the others wait for a session
    /// while recognition, the rest of the page, runs on every worker.
    ///
    /// A detector session shared by several workers runs on all their
    /// threads: a worker waiting for it would otherwise leave its core idle
    /// (pages of one job start, and so detect, together). When the others
    /// are busy recognising, the extra thread only takes turns with them on
    /// the same cores — onnxruntime does not spin. Measured with `poolbench`
    /// (small, 2 workers, 2 cores): 0.381/0.395 → 0.399/0.414 pages/s.
    pub(crate) fn detector_session_settings(&self) -> crate::onnxruntime::SessionSettings {
        let workers = self.sessions.max(1);
        let sessions = if self.bounded_memory { workers.div_ceil(2) } else { self.sessions };
        let threads = self.threads * (workers / sessions.max(1));
        crate::onnxruntime::SessionSettings {
            sessions,
            threads,
            release_memory: self.bounded_memory,
            varying_shapes: false,
        }
    }
}

/// Which pages a page recogniser reads instead of the line models.
#[derive(Clone)]
pub enum PageRouting {
    /// Every page: a language only a page recogniser reads.
    Always(Arc<dyn PageRecognizer>),
    /// Page by page, by the script it is written in (`language=auto`).
    ByScript(Arc<dyn ScriptRouter>),
}

/// A page read upright (see [`PageRead`]), or why it could not be read.
type ReadUpright = Result<PageRead>;

/// A page under script routing has its script checked when the line models
/// read fewer characters than this share of what the detected regions could
/// hold (one character per line-height of length). Measured on the shared
/// pages: Latin print, receipts and handwriting read 1.6–2.5, Chinese 1.25;
/// Cyrillic lines 0.05–0.40, Sanskrit pages 0.48–0.50, and every rendered
/// non-Latin sentence of tests/data/scripts.tsv below 0.3. Confidence alone
/// does not tell: Cyrillic reads as a few Latin look-alikes at 0.97–0.98.
const SCRIPT_CHECK_COVERAGE: f32 = 0.7;

/// …or when their character-weighted mean confidence is below this: Greek,
/// Hebrew and Thai read as Latin look-alikes cover their lines but at
/// 0.6–0.85; print the line models read is ≥ 0.96 (handwriting 0.89, which
/// the script trial then keeps: Latin is one of its candidates).
const SCRIPT_CHECK_CONFIDENCE: f32 = 0.9;

/// Mean line confidence weighted by characters (1.0 for a page without text).
fn weighted_confidence(lines: &[RecognizedLine]) -> f32 {
    let chars: usize = lines.iter().map(|l| l.text.chars().count()).sum();
    if chars == 0 {
        return 1.0;
    }
    lines.iter().map(|l| l.confidence * l.text.chars().count() as f32).sum::<f32>() / chars as f32
}

/// Length of a region in line heights: about how many characters it holds.
fn aspect(q: &Quad) -> f32 {
    q.width().max(q.height()) / q.width().min(q.height()).max(1.0)
}

/// Characters read per character the detected `regions` could hold (1.0
/// when nothing was detected: nothing to reroute). A script the line models
/// have no letters for reads as little or nothing, often confidently.
fn coverage(lines: &[RecognizedLine], regions: &[Quad]) -> f32 {
    let expected: f32 = regions.iter().map(aspect).sum();
    let chars: usize = lines.iter().map(|l| l.text.chars().count()).sum();
    if expected > 0.0 { chars as f32 / expected } else { 1.0 }
}

/// A loaded detector + recogniser pair, the page recogniser pages may be
/// routed to, and the settings. The networks are shared: engines derived
/// with [`OcrEngine::with_routing`] use the same loaded models.
pub struct OcrEngine {
    det: Arc<dyn DetectionModel>,
    rec: Arc<dyn TextRecognizer>,
    routing: Option<PageRouting>,
    config: EngineConfig,
}

/// Below this mean confidence on its longest lines a page is checked for
/// being upside down (upright print reads at ≥ 0.9).
const UPRIGHT_CONFIDENCE: f32 = 0.9;
/// Lines sampled to decide orientation.
const ORIENTATION_SAMPLE: usize = 8;
impl OcrEngine {
    /// Builds an engine from a detector and a line recogniser of any family.
    pub fn new(det: Box<dyn DetectionModel>, rec: Box<dyn TextRecognizer>, config: EngineConfig) -> Self {
        Self { det: Arc::from(det), rec: Arc::from(rec), routing: None, config }
    }

    /// This engine's models with pages routed to a page recogniser (the
    /// models are shared, not copied).
    pub fn with_routing(&self, routing: PageRouting) -> Self {
        Self { det: Arc::clone(&self.det), rec: Arc::clone(&self.rec), routing: Some(routing), config: self.config }
    }

    /// This engine with another line recogniser of the same model, its CTC
    /// head pruned to `charset` (the detector and the routing are shared,
    /// not copied).
    pub fn with_recognizer(&self, rec: Box<dyn TextRecognizer>, charset: crate::Charset) -> Self {
        Self {
            det: Arc::clone(&self.det),
            rec: Arc::from(rec),
            routing: self.routing.clone(),
            config: EngineConfig { charset, ..self.config },
        }
    }

    /// Reads `page` with its page recogniser (the whole page, turned upright by it).
    fn read_with(reader: &dyn PageRecognizer, page: &PagePixels, assume_upright: bool) -> ReadUpright {
        reader.read_page(page, assume_upright)
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Stage 1: find text-line regions.
    pub fn detect(&self, page: &PagePixels) -> Result<Vec<TextRegion>> {
        let start = Instant::now();
        let regions = detect::detect(self.det.as_ref(), page, &self.config.det)?;
        debug!(regions = regions.len(), ms = start.elapsed().as_millis() as u64, "detected");
        Ok(regions)
    }

    /// Stage 2: read the text in each region; illegible regions are dropped.
    pub fn recognize(&self, page: &PagePixels, regions: &[TextRegion]) -> Result<Vec<RecognizedLine>> {
        let start = Instant::now();
        let quads: Vec<_> = regions.iter().map(|r| r.quad).collect();
        let lines: Vec<_> = self.rec.recognize(page, &quads, &self.config.rec)?.into_iter().flatten().collect();
        debug!(lines = lines.len(), ms = start.elapsed().as_millis() as u64, "recognised");
        Ok(lines)
    }

    /// Stage 3: blocks in reading order.
    pub fn layout(&self, lines: &[RecognizedLine]) -> Vec<crate::document::Block> {
        layout::layout(lines, &self.config.layout)
    }

    /// Indices of the longest line-shaped regions: the sample that decides orientation.
    fn orientation_sample(regions: &[TextRegion]) -> Vec<usize> {
        let long = |q: &Quad| q.width().max(q.height());
        let short = |q: &Quad| q.width().min(q.height());
        let mut idx: Vec<usize> =
            (0..regions.len()).filter(|&i| long(&regions[i].quad) >= 2.0 * short(&regions[i].quad)).collect();
        idx.sort_by(|&a, &b| long(&regions[b].quad).total_cmp(&long(&regions[a].quad)).then(a.cmp(&b)));
        idx.truncate(ORIENTATION_SAMPLE);
        idx
    }

    /// Mean confidence of recognised `lines` over `sample`; illegible lines count as zero.
    fn mean_confidence(lines: &[Option<RecognizedLine>], sample: &[usize]) -> f32 {
        if sample.is_empty() {
            return 1.0;
        }
        sample.iter().map(|&i| lines[i].as_ref().map_or(0.0, |l| l.confidence)).sum::<f32>() / sample.len() as f32
    }

    /// Recognises `regions` (optionally read upside down) keeping one entry per region.
    fn read_regions(
        &self,
        page: &PagePixels,
        regions: &[TextRegion],
        flip: bool,
    ) -> Result<Vec<Option<RecognizedLine>>> {
        let quads: Vec<Quad> = regions.iter().map(|r| if flip { r.quad.rotated_180() } else { r.quad }).collect();
        self.rec.recognize(page, &quads, &self.config.rec)
    }

    /// Confidence of the orientation sample read as given or upside down.
    fn sample_confidence(&self, page: &PagePixels, regions: &[TextRegion], flip: bool) -> Result<f32> {
        let sample = Self::orientation_sample(regions);
        let picked: Vec<TextRegion> = sample.iter().map(|&i| regions[i]).collect();
        let lines = self.read_regions(page, &picked, flip)?;
        Ok(Self::mean_confidence(&lines, &(0..picked.len()).collect::<Vec<_>>()))
    }

    /// Detects and recognises, trying the page turned a quarter and half turn
    /// when its text looks vertical or unreadable. Returns the upright image
    /// (when it had to turn), the clockwise rotation applied and the lines.
    /// Under script routing (`language=auto`), a page the line models read
    /// with a character-weighted mean confidence below
    /// [`SCRIPT_CHECK_CONFIDENCE`] has its script detected, and a script they
    /// do not read goes to the page recogniser. Pages they read well — the
    /// common case — never pay for script detection (0.1–0.6 s a page).
    fn read_upright(&self, page: &PagePixels) -> ReadUpright {
        let router = match &self.routing {
            Some(PageRouting::Always(reader)) => {
                return Self::read_with(reader.as_ref(), page, self.config.assume_upright);
            }
            Some(PageRouting::ByScript(router)) => Some(router),
            None => None,
        };
        let (read, mut regions) = self.read_upright_lines(page)?;
        if let Some(router) = router {
            let (coverage, confidence) = (coverage(&read.lines, &regions), weighted_confidence(&read.lines));
            debug!(coverage, confidence, "line models' reading");
            if coverage < SCRIPT_CHECK_COVERAGE || confidence < SCRIPT_CHECK_CONFIDENCE {
                // The line models turned the page, but for a script they do
                // not read that turn is a guess (tiny flipped an upright
                // Arabic line): the trial samples the page as given.
                if read.rotation != 0 {
                    regions = self.detect(page)?.into_iter().map(|r| r.quad).collect();
                }
                regions.sort_by(|a, b| aspect(b).total_cmp(&aspect(a)));
                if let Some(reader) = router.reader_for(page, &regions)? {
                    return Self::read_with(reader.as_ref(), page, self.config.assume_upright);
                }
            }
        }
        Ok(read)
    }

    /// [`Self::read_upright`] with the line models, and the detected regions
    /// (in the page as given: script routing reads the page as given).
    fn read_upright_lines(&self, page: &PagePixels) -> Result<(PageRead, Vec<Quad>)> {
        let mut regions = self.detect(page)?;
        let orientation_start = Instant::now();
        let mut rotated: Option<PagePixels> = None;
        let mut rotation = 0u16;
        if !self.config.assume_upright {
            let tall = regions.iter().filter(|r| r.quad.height() >= 2.0 * r.quad.width()).count();
            let wide = regions.iter().filter(|r| r.quad.width() >= 2.0 * r.quad.height()).count();
            if tall >= 3 && tall > 2 * wide {
                let turned = page.rotate90();
                let turned_regions = self.detect(&turned)?;
                // Vertical lines read almost as well as turned ones (the
                // recogniser turns tall crops), so turn unless that reads
                // clearly worse: vertical CJK text stays as it is. The turned
                // page may be upside down: either way up counts.
                let turned_conf = self
                    .sample_confidence(&turned, &turned_regions, false)?
                    .max(self.sample_confidence(&turned, &turned_regions, true)?);
                if turned_conf >= self.sample_confidence(page, &regions, false)? - 0.05 {
                    regions = turned_regions;
                    rotated = Some(turned);
                    rotation = 90;
                }
            }
        }
        let mut orientation = orientation_start.elapsed();
        let current = rotated.as_ref().unwrap_or(page);
        let mut lines = self.read_regions(current, &regions, false)?;
        let flip_start = Instant::now();
        if !self.config.assume_upright {
            let sample = Self::orientation_sample(&regions);
            let upright = Self::mean_confidence(&lines, &sample);
            if upright < UPRIGHT_CONFIDENCE && self.sample_confidence(current, &regions, true)? > upright + 0.1 {
                let flipped = current.rotate180();
                regions = self.detect(&flipped)?;
                lines = self.read_regions(&flipped, &regions, false)?;
                rotated = Some(flipped);
                rotation = (rotation + 180) % 360;
            }
        }
        orientation += flip_start.elapsed();
        // Stage profile: time spent only on deciding the page's orientation.
        debug!(rotation, ms = orientation.as_secs_f64() * 1e3, "stage: orientation");
        let quads = if rotation == 0 { regions.iter().map(|r| r.quad).collect() } else { Vec::new() };
        let lines = lines.into_iter().flatten().collect();
        Ok((PageRead { rotated, rotation, lines, segmented: false }, quads))
    }

    /// All stages for one page image: orientation, detection, recognition,
    /// layout (the one-call shortcut for a page already in memory).
    pub fn ocr_image(&self, page: &PagePixels, index: usize) -> Result<Page> {
        let start = Instant::now();
        let read = self.read_upright(page)?;
        let upright = read.rotated.as_ref().unwrap_or(page);
        let out = self.page_from_lines(upright, index, &read);
        let (lines, rotation) = (read.lines.len(), read.rotation);
        debug!(index, lines, rotation, ms = start.elapsed().as_millis() as u64, "page done");
        Ok(out)
    }

    /// Lays out recognised lines into the page model.
    fn page_from_lines(&self, upright: &PagePixels, index: usize, read: &PageRead) -> Page {
        let start = Instant::now();
        let params = LayoutParams { segmented: read.segmented, ..self.config.layout };
        let mut out = Page {
            index,
            width: upright.width(),
            height: upright.height(),
            rotation: read.rotation,
            source: PageSource::Ocr,
            text: String::new(),
            blocks: layout::layout(&read.lines, &params),
        };
        out.refresh_text();
        debug!(ms = start.elapsed().as_secs_f64() * 1e3, "stage: layout");
        out
    }

    /// Decodes an image or PDF file (any page count) and recognises every
    /// page, calling `progress(done, total)` after each: the one-call
    /// shortcut over [`Source::open`] and [`Self::pages`].
    pub fn ocr_bytes(&self, bytes: &[u8], mut progress: impl FnMut(usize, usize)) -> Result<Document> {
        let source = Source::open(bytes, self.config.limits)?;
        let total = source.page_count();
        let mut pages = Vec::with_capacity(total);
        for read in self.pages(&source) {
            pages.push(read.map_err(|e| e.error)?.page);
            progress(pages.len(), total);
        }
        Ok(Document::from_pages(pages))
    }

    /// Every page of an opened source, one at a time and in order (see
    /// [`PageReader`]): what callers that schedule, meter, checkpoint or
    /// show page by page iterate (the CLI through [`Self::ocr_bytes`], the
    /// server's job runner, the browser worker).
    pub fn pages<'r, 'a>(&'r self, source: &'r Source<'a>) -> PageReader<'r, 'a> {
        PageReader::new(self, source)
    }

    /// Page `index` from its text layer when `source` is a PDF with a usable
    /// one (and OCR is not forced); `None`: the page needs [`Self::ocr_page`].
    /// The sequential half of reading a page: `check` carries what earlier
    /// pages of the document showed.
    #[cfg(feature = "pdf")]
    fn text_layer_or_none(
        &self,
        source: &Source<'_>,
        index: usize,
        check: &mut TextLayerCheck,
    ) -> Result<Option<Page>> {
        self.text_layer_of(source, index, check)
    }

    /// Without PDF input no page has a text layer.
    #[cfg(not(feature = "pdf"))]
    fn text_layer_or_none(&self, _: &Source<'_>, _: usize, _: &mut TextLayerCheck) -> Result<Option<Page>> {
        Ok(None)
    }

    /// Renders (or decodes) page `index` of `source` and recognises it,
    /// without looking at a text layer: the half of reading a page that
    /// [`PageReader::plan`] leaves to its caller, which may run it for
    /// several pages at once on other threads. Returns the page and the
    /// upright image the OCR read. Only this page's pixels are in memory.
    pub fn ocr_page(&self, source: &Source<'_>, index: usize) -> Result<(Page, PagePixels)> {
        let (start, cpu) = (Instant::now(), process_cpu_ms());
        let img = source.pixels(index)?;
        let cpu_ms = cpu_ms_between(cpu, process_cpu_ms());
        debug!(index, ms = start.elapsed().as_secs_f64() * 1e3, cpu_ms, "stage: decode");
        let mut read = self.read_upright(&img)?;
        let upright = read.rotated.take().unwrap_or(img);
        Ok((self.page_from_lines(&upright, index, &read), upright))
    }
}

/// What a document's text-layer pages have shown so far: how many were read
/// back against the recogniser, and whether one did not match (then every
/// later page is checked too).
#[derive(Clone, Copy, Debug, Default)]
struct TextLayerCheck {
    #[cfg_attr(not(feature = "pdf"), allow(dead_code))]
    checked: usize,
    #[cfg_attr(not(feature = "pdf"), allow(dead_code))]
    suspect: bool,
}

#[cfg(test)]
mod tests {
    use rten_tensor::NdTensor;
    use rten_tensor::prelude::*;

    use super::*;
    use crate::model::{FrameBest, Normalization, RecognitionModel};
    use crate::recognize::CtcRecognizer;

    /// Marks dark pixels as text.
    struct FakeDetector;
    impl DetectionModel for FakeDetector {
        fn normalization(&self) -> Normalization {
            Normalization::PPOCR_REC
        }
        fn run(&self, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, 4>> {
            let [n, _, h, w] = input.shape();
            let mut out = NdTensor::zeros([n, 1, h, w]);
            for y in 0..h {
                for x in 0..w {
                    out[[0, 0, y, x]] = if input[[0, 0, y, x]] < -0.5 { 1.0 } else { 0.0 };
                }
            }
            Ok(out)
        }
    }

    /// Emits "x" for every 8-px frame column that contains ink.
    struct FakeRecognizer(Vec<String>);
    impl RecognitionModel for FakeRecognizer {
        fn normalization(&self) -> Normalization {
            Normalization::PPOCR_REC
        }
        fn alphabet(&self) -> &[String] {
            &self.0
        }
        fn run(&self, input: NdTensor<f32, 4>) -> Result<FrameBest> {
            let [n, _, h, w] = input.shape();
            let frames = w / 8;
            let mut class = NdTensor::zeros([n, frames]);
            for i in 0..n {
                for t in 0..frames {
                    let ink = (0..h).any(|y| (t * 8..t * 8 + 8).any(|x| input[[i, 0, y, x]] < -0.5));
                    class[[i, t]] = u32::from(ink);
                }
            }
            Ok(FrameBest { class, prob: NdTensor::full([n, frames], 0.95) })
        }
    }

    fn fake_engine() -> OcrEngine {
        let rec = CtcRecognizer(FakeRecognizer(vec!["x".into()]));
        OcrEngine::new(Box::new(FakeDetector), Box::new(rec), EngineConfig::default())
    }

    /// A white page with two columns of four dark bars ("lines").
    fn two_column_page() -> PagePixels {
        let mut img = image::RgbImage::from_pixel(800, 600, image::Rgb([255, 255, 255]));
        for col in [50u32, 450] {
            for i in 0..4u32 {
                let y0 = 100 + i * 24;
                for y in y0..y0 + 8 {
                    for x in col..col + 300 {
                        img.put_pixel(x, y, image::Rgb([0, 0, 0]));
                    }
                }
            }
        }
        img.into()
    }

    #[test]
    fn a_grey_page_reads_as_its_rgb_conversion() {
        let engine = fake_engine();
        let rgb = two_column_page();
        let grey = PagePixels::Grey(image::DynamicImage::ImageRgb8(rgb.clone().into_rgb()).into_luma8());
        assert_eq!(grey.clone().into_rgb(), rgb.clone().into_rgb(), "black and white: the conversion is lossless");
        assert_eq!(engine.ocr_image(&grey, 0).unwrap(), engine.ocr_image(&rgb, 0).unwrap());
    }

    #[test]
    fn stages_compose_into_a_page_in_reading_order() {
        let engine = fake_engine();
        let img = two_column_page();
        let regions = engine.detect(&img).unwrap();
        assert_eq!(regions.len(), 8, "one region per bar");
        let lines = engine.recognize(&img, &regions).unwrap();
        assert!(lines.iter().all(|l| l.text == "x"));
        let page = engine.ocr_image(&img, 3).unwrap();
        assert_eq!((page.index, page.width, page.height, page.rotation), (3, 800, 600, 0));
        assert_eq!(page.blocks.len(), 2, "{:#?}", page.blocks);
        let (left, right) = (&page.blocks[0], &page.blocks[1]);
        assert!(left.bbox[2] < 400 && right.bbox[0] > 400, "left column first: {:?} then {:?}", left.bbox, right.bbox);
        assert_eq!(left.lines.len(), 4);
        assert_eq!(left.text, "x\nx\nx\nx");
        assert_eq!(page.text, "x\nx\nx\nx\n\nx\nx\nx\nx");
    }

    #[test]
    fn a_planned_page_read_on_another_thread_is_the_page_the_iterator_reads() {
        let engine = fake_engine();
        let mut png = Vec::new();
        two_column_page().into_rgb().write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
        let shared = Source::open_shared(std::sync::Arc::new(png.clone()), DecodeLimits::default()).unwrap();
        let mut reader = engine.pages(&shared);
        assert!(matches!(reader.plan(), Some(Planned::Ocr(0))), "an image page needs OCR");
        assert!(reader.plan().is_none());
        let (page, image) = std::thread::scope(|s| s.spawn(|| engine.ocr_page(&shared, 0)).join().unwrap()).unwrap();
        assert_eq!(image.dimensions(), (800, 600));
        let borrowed = Source::open(&png, DecodeLimits::default()).unwrap();
        let iterated = engine.pages(&borrowed).next().unwrap().unwrap().page;
        assert_eq!(page, iterated);
        assert!(engine.pages(&borrowed).skipping(|i| i == 0).plan().is_none(), "skipped pages are not planned");
    }

    #[test]
    fn blank_pages_and_bad_bytes() {
        let engine = fake_engine();
        let blank = image::GrayImage::from_pixel(300, 200, image::Luma([255])).into();
        let page = engine.ocr_image(&blank, 0).unwrap();
        assert!(page.blocks.is_empty() && page.text.is_empty());
        assert!(matches!(engine.ocr_bytes(b"", |_, _| {}), Err(crate::EngineError::Empty)));
        assert!(matches!(
            engine.ocr_bytes(b"\x89PNG\r\n\x1a\ngarbage", |_, _| {}),
            Err(crate::EngineError::Decode { .. })
        ));
    }

    #[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
    #[test]
    fn a_shared_detector_session_runs_on_the_threads_of_the_workers_sharing_it() {
        let settings = |sessions, threads, bounded_memory| {
            let s = EngineConfig { sessions, threads, bounded_memory, ..EngineConfig::default() }
                .detector_session_settings();
            (s.sessions, s.threads, s.release_memory)
        };
        // (workers, threads per worker, bounded) → (detector sessions, their threads, arena-less)
        assert_eq!(settings(1, 1, true), (1, 1, true), "the CLI and a one-worker server");
        assert_eq!(settings(2, 1, true), (1, 2, true), "two workers share one session on both cores");
        assert_eq!(settings(3, 1, true), (2, 1, true), "three workers: two sessions, one thread each");
        assert_eq!(settings(4, 2, true), (2, 4, true));
        assert_eq!(settings(2, 1, false), (2, 1, false), "a session each, with arenas");
        assert_eq!(settings(0, 0, false), (0, 0, false), "onnxruntime's defaults");
    }
}
