//! The second recogniser family: Tesseract 5's LSTM (`tessdata_fast` packs)
//! for the languages PP-OCRv6 does not read, its orientation detector (OSD)
//! to turn those pages upright, and the script trial that routes pages
//! under `language=auto` ([`Readers`]).
//!
//! Tesseract segments the page itself ([`TesseractReader`] is a
//! [`PageRecognizer`]), rather than reading the line crops of our DB
//! detector: measured on the shared Cyrillic lines and Sanskrit pages, line
//! crops read through the same packs gave CER 0.055 / 0.217 against the
//! `tesseract` CLI's 0.009 / 0.105 — its LSTM is trained on its own line
//! images (its binarisation, its x-height normalisation). Our layout stage
//! still builds blocks, tables and reading order from the lines it returns.
//!
//! Where Tesseract runs is a [`TessBackend`]: natively `libtesseract.so.5`
//! with packs from a tessdata directory ([`Tessdata`]), in the browser
//! worker tesseract-wasm with packs fetched from the server. Everything
//! above it — tidying, the reader, the script trial — is this one module.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use image::RgbImage;
use tracing::debug;
use web_time::Instant;

use crate::error::{EngineError, Result};
use crate::geometry::Quad;
use crate::model::{PageRead, PageRecognizer, ScriptRouter};
use crate::pipeline::PageRouting;
use crate::pixels::PagePixels;
use crate::recognize::{RecognizedLine, RecognizedWord};
use crate::registry::Plan;
pub use tesseract_capi::{Orientation, TessError, TessLine, TessWord};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::{Tessdata, library_version};

/// Index of the LSTM network in a traineddata file's table of contents
/// (`TESSDATA_LSTM` in tessdatamanager.h).
const TESSDATA_LSTM: usize = 17;
/// Entries in Tesseract 5's table of contents (`TESSDATA_NUM_ENTRIES`).
const TESSDATA_MAX_ENTRIES: usize = 24;
/// Below this OSD orientation confidence a page is read as it is (Tesseract's
/// own CLI turns at any confidence; a wrong turn costs the whole page).
const OSD_MIN_ORIENTATION_CONFIDENCE: f32 = 2.0;

/// One loaded Tesseract instance: reads one image at a time.
pub trait TessInstance: Send {
    /// Segments `image` into lines and reads them (Tesseract's page mode).
    fn read(&mut self, image: &RgbImage) -> std::result::Result<Vec<TessLine>, TessError>;
    /// Reads `image` as one text line.
    fn read_line(&mut self, image: &RgbImage) -> std::result::Result<Option<TessLine>, TessError>;
    /// Orientation and script of `image` (the legacy `osd` pack; `None`
    /// where the page has too little text or the build has no OSD).
    fn orientation(&mut self, image: &RgbImage) -> std::result::Result<Option<Orientation>, TessError> {
        let _ = image;
        Ok(None)
    }
}

/// Where Tesseract instances come from.
pub trait TessBackend: Send + Sync {
    /// Whether `pack` (`rus`, `osd`) can be loaded here.
    fn has_pack(&self, pack: &str) -> bool;
    /// A new instance with `packs` (`+`-joined) loaded.
    fn open(&self, packs: &str) -> Result<Box<dyn TessInstance>>;
}

/// Maps the FFI crate's errors to the engine's: a missing library is a
/// missing model (the same install command), anything else an invalid one.
pub fn engine_error(e: TessError) -> EngineError {
    match e {
        TessError::Library(_) => EngineError::ModelsMissing {
            detail: "libtesseract.so.5; install it with `make models` (scripts/fetch-tessdata.sh)".into(),
            source: Some(std::io::Error::other(e)),
        },
        TessError::Init { ref packs, .. } => {
            EngineError::InvalidModel { name: format!("tesseract/{packs}"), source: Box::new(e) }
        }
        TessError::Recognize | TessError::Wasm(_) => {
            EngineError::Inference { model: "tesseract".into(), source: Box::new(e) }
        }
    }
}

/// Undoes two spellings of the packs that no reader wants: `tam` writes a
/// zero-width non-joiner after every pulli (U+0BCD; invisible, but every
/// search and comparison misses), and `ell` reads μ as the micro sign µ.
fn tidy(text: String, greek: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = '\0';
    for c in text.chars() {
        match c {
            '\u{200C}' if prev == '\u{0BCD}' => continue,
            '\u{00B5}' if greek => out.push('\u{03BC}'),
            c => out.push(c),
        }
        prev = c;
    }
    out
}

/// Our line from Tesseract's: boxes as quads, words in reading order.
fn recognized(line: TessLine, greek: bool) -> RecognizedLine {
    let quad = |b: [i32; 4]| Quad::from_rect(b[0] as f32, b[1] as f32, b[2] as f32, b[3] as f32);
    RecognizedLine {
        quad: quad(line.bbox),
        text: tidy(line.text, greek),
        confidence: line.confidence,
        words: line
            .words
            .into_iter()
            .map(|w| RecognizedWord { quad: quad(w.bbox), text: tidy(w.text, greek), confidence: w.confidence })
            .collect(),
    }
}

/// Checks a traineddata file's table of contents before Tesseract sees it:
/// Tesseract aborts the process on some corrupt files rather than failing.
/// `osd` is a legacy-engine pack; every language pack we load needs its LSTM.
pub fn check_traineddata(name: &str, bytes: &[u8], needs_lstm: bool) -> Result<()> {
    let invalid = |why: String| EngineError::InvalidModel { name: name.to_string(), source: why.into() };
    let size = bytes.len() as i64;
    let entries = bytes.get(..4).map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes"))).unwrap_or(-1);
    if entries <= 0 || entries as usize > TESSDATA_MAX_ENTRIES {
        return Err(invalid(format!("not a Tesseract traineddata file (table of {entries} entries)")));
    }
    let toc_end = 4 + 8 * entries as usize;
    let toc = bytes.get(4..toc_end).ok_or_else(|| invalid("truncated table of contents".into()))?;
    let offsets: Vec<i64> = toc.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    let mut last = toc_end as i64;
    for &offset in offsets.iter().filter(|&&o| o >= 0) {
        if offset < last || offset > size {
            return Err(invalid(format!("component offset {offset} outside the file ({size} bytes)")));
        }
        last = offset;
    }
    if needs_lstm && offsets.get(TESSDATA_LSTM).is_none_or(|&o| o < 0) {
        return Err(invalid("no LSTM model in the file (a legacy-only pack)".into()));
    }
    Ok(())
}

/// Initialised instances of one pack set, reused across pages (loading a
/// pack takes 50–300 ms); one per page read at once.
struct Pool {
    backend: Arc<dyn TessBackend>,
    packs: String,
    idle: Mutex<Vec<Box<dyn TessInstance>>>,
}

impl Pool {
    fn new(backend: Arc<dyn TessBackend>, packs: &str) -> Result<Self> {
        // Load one now: a pack Tesseract rejects fails here, not on a page.
        let first = backend.open(packs)?;
        Ok(Pool { backend, packs: packs.to_string(), idle: Mutex::new(vec![first]) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut dyn TessInstance) -> std::result::Result<T, TessError>) -> Result<T> {
        let taken = lock(&self.idle).pop();
        let mut tess = match taken {
            Some(t) => t,
            None => self.backend.open(&self.packs)?,
        };
        let out = f(tess.as_mut());
        lock(&self.idle).push(tess);
        out.map_err(engine_error)
    }
}

/// Reads whole pages with a set of Tesseract packs (`"rus"`, `"rus+eng"`).
pub struct TesseractReader {
    pool: Pool,
    osd: Option<Arc<Osd>>,
}

impl TesseractReader {
    /// Loads `packs` from `backend`; with `osd`, pages are turned upright first.
    pub fn new(backend: Arc<dyn TessBackend>, packs: &str, osd: Option<Arc<Osd>>) -> Result<Self> {
        let start = Instant::now();
        let pool = Pool::new(backend, packs)?;
        debug!(packs, ms = start.elapsed().as_millis() as u64, "tesseract loaded");
        Ok(Self { pool, osd })
    }

    /// The packs this reader loaded.
    pub fn packs(&self) -> &str {
        &self.pool.packs
    }
}

impl PageRecognizer for TesseractReader {
    fn read_page(&self, page: &PagePixels, assume_upright: bool) -> Result<PageRead> {
        let start = Instant::now();
        let mut rotated = None;
        let mut rotation = 0;
        if !assume_upright && let Some(osd) = &self.osd {
            let guess = osd.detect(page)?;
            if let Some(g) = guess.filter(|g| g.orientation_confidence >= OSD_MIN_ORIENTATION_CONFIDENCE) {
                rotation = g.turn_upright;
                rotated = turn(page, rotation);
            }
        }
        // Tesseract's binding takes RGB: a grey page is converted for the read.
        let upright = rotated.as_ref().unwrap_or(page).to_rgb();
        let lines = self.pool.with(|tess| tess.read(&upright))?;
        let greek = self.pool.packs.split('+').any(|p| p == "ell" || p == "grc");
        let lines: Vec<RecognizedLine> = lines.into_iter().map(|l| recognized(l, greek)).collect();
        debug!(
            packs = self.pool.packs,
            lines = lines.len(),
            ms = start.elapsed().as_millis() as u64,
            "stage: tesseract"
        );
        Ok(PageRead { rotated, rotation, lines, segmented: true })
    }
}

/// `page` turned clockwise by `degrees` (a multiple of 90), `None` for 0.
fn turn(page: &PagePixels, degrees: u16) -> Option<PagePixels> {
    match degrees {
        90 => Some(page.rotate90()),
        180 => Some(page.rotate180()),
        270 => Some(page.rotate270()),
        _ => None,
    }
}

/// What OSD says about a page.
#[derive(Clone, Debug, PartialEq)]
pub struct OsdGuess {
    /// Clockwise degrees that turn the page upright.
    pub turn_upright: u16,
    /// Tesseract's orientation confidence (≥ 2 is usually right).
    pub orientation_confidence: f32,
    /// Script name as OSD spells it ("Latin", "Cyrillic", "Han", "Hangul"…).
    pub script: String,
    /// Script confidence.
    pub script_confidence: f32,
}

/// Tesseract's orientation and script detector (`osd.traineddata`).
pub struct Osd {
    pool: Pool,
}

/// OSD works on connected components; more pixels than this only cost time.
const OSD_MAX_SIDE: u32 = 2400;

impl Osd {
    /// Loads the `osd` pack from `backend`.
    pub fn new(backend: Arc<dyn TessBackend>) -> Result<Self> {
        let pool = Pool::new(backend, "osd")?;
        Ok(Self { pool })
    }

    /// Orientation and script of `page`; `None` when the page has too little
    /// text to tell.
    pub fn detect(&self, page: &PagePixels) -> Result<Option<OsdGuess>> {
        let start = Instant::now();
        let long = page.width().max(page.height());
        let scaled;
        let img = if long > OSD_MAX_SIDE {
            let k = OSD_MAX_SIDE as f32 / long as f32;
            let (w, h) = ((page.width() as f32 * k) as u32, (page.height() as f32 * k) as u32);
            scaled = crate::detect::resize(page, (w.max(1), h.max(1)));
            &scaled
        } else {
            page
        };
        let img = img.to_rgb();
        let found = self.pool.with(|tess| tess.orientation(&img))?;
        let guess = found.map(|o| OsdGuess {
            // OSD reports how far the page is turned clockwise; undoing it is
            // the rest of the full turn.
            turn_upright: (360 - o.degrees) % 360,
            orientation_confidence: o.confidence,
            script: o.script,
            script_confidence: o.script_confidence,
        });
        debug!(?guess, ms = start.elapsed().as_millis() as u64, "stage: osd");
        Ok(guess)
    }
}

/// Every Tesseract reader of one models directory, loaded on first use and
/// shared by all engines; also the script router of `language=auto`.
pub struct Readers {
    backend: Arc<dyn TessBackend>,
    osd: Mutex<Option<Arc<Osd>>>,
    readers: Mutex<HashMap<String, Arc<TesseractReader>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Readers {
    /// Readers of the packs `backend` has.
    pub fn new(backend: Arc<dyn TessBackend>) -> Self {
        Self { backend, osd: Mutex::new(None), readers: Mutex::new(HashMap::new()) }
    }

    /// Whether every pack of `packs` (`+`-joined) can be loaded.
    pub fn installed(&self, packs: &str) -> bool {
        packs.split('+').all(|p| self.backend.has_pack(p))
    }

    /// Whether OSD can turn pages upright here.
    pub fn osd_installed(&self) -> bool {
        self.installed("osd")
    }

    /// Whether `language=auto` can route pages here: some candidate pack of
    /// the script trial is installed.
    pub fn routing_available(&self) -> bool {
        crate::registry::AUTO_PACKS.iter().any(|(_, pack)| self.installed(pack))
    }

    /// The script detector, loaded on first use.
    pub fn osd(&self) -> Result<Arc<Osd>> {
        if let Some(osd) = lock(&self.osd).as_ref() {
            return Ok(Arc::clone(osd));
        }
        let osd = Arc::new(Osd::new(Arc::clone(&self.backend))?);
        *lock(&self.osd) = Some(Arc::clone(&osd));
        Ok(osd)
    }

    /// The reader of `packs`, loaded on first use (pages turned upright by OSD when installed).
    pub fn reader(&self, packs: &str) -> Result<Arc<TesseractReader>> {
        if let Some(reader) = lock(&self.readers).get(packs) {
            return Ok(Arc::clone(reader));
        }
        let osd = if self.osd_installed() { Some(self.osd()?) } else { None };
        let reader = Arc::new(TesseractReader::new(Arc::clone(&self.backend), packs, osd)?);
        lock(&self.readers).insert(packs.to_string(), Arc::clone(&reader));
        Ok(reader)
    }
}

/// The page routing an engine needs to read `code` (planned as `plan`):
/// Tesseract codes read every page with their packs; `auto` sends pages
/// the line models read poorly to the script trial when a candidate pack
/// is installed; `None`: the line models read as they are. One rule for
/// the native hosts ([`crate::Engines`]) and the browser worker.
pub fn routing_for(code: &str, plan: &Plan, readers: &Arc<Readers>) -> Result<Option<PageRouting>> {
    Ok(match plan {
        Plan::Tesseract(packs) => Some(PageRouting::Always(readers.reader(packs)?)),
        Plan::Lines if code == "auto" && readers.routing_available() => {
            Some(PageRouting::ByScript(Arc::clone(readers) as Arc<dyn ScriptRouter>))
        }
        Plan::Lines => None,
    })
}

/// The pack that stands for the line models' Latin in the script trial.
const LATIN_PACK: &str = "eng";

/// Every pack the script trial of `auto` reads with, by script (Latin's
/// `eng` first); a host that loads packs on demand fetches these.
pub fn trial_packs() -> impl Iterator<Item = (&'static str, &'static str)> {
    std::iter::once(("Latin", LATIN_PACK)).chain(crate::registry::AUTO_PACKS.iter().copied())
}
/// Lines of a page `language=auto` reads with each candidate pack…
const SAMPLE_LINES: usize = 4;
/// …each cut to at most this many line heights: whole lines of a page made
/// the trial cost seconds, but at 10 the cut through a glyph at the crop's
/// edge weighed too much — on an Arabic line (tiny's looser box) Syriac
/// scored 0.64 and Arabic 0.48; at 20 Arabic scores 0.95, Syriac 0.49.
const SAMPLE_MAX_ASPECT: f32 = 20.0;
/// Below this sample score no candidate script is taken (the line models'
/// reading stays).
const MIN_SAMPLE_SCORE: f32 = 0.5;

/// The start of `quad`'s bounding box (at most [`SAMPLE_MAX_ASPECT`] line
/// heights) cut from `page`, with a margin of a fifth of its height. For a
/// right-to-left line the start is on the right, but either end tells the script.
fn crop(page: &PagePixels, quad: &Quad) -> Option<RgbImage> {
    let b = quad.bounds();
    let height = b[3] - b[1];
    let pad = 0.2 * height;
    let x0 = (b[0] - pad).max(0.0) as u32;
    let y0 = (b[1] - pad).max(0.0) as u32;
    let right = b[2].min(b[0] + SAMPLE_MAX_ASPECT * height);
    let x1 = ((right + pad) as u32).min(page.width());
    let y1 = ((b[3] + pad) as u32).min(page.height());
    (x1 > x0 + 4 && y1 > y0 + 4).then(|| page.crop_rgb(x0, y0, x1 - x0, y1 - y0))
}

impl TesseractReader {
    /// How well this pack reads `lines` (each as one line): confidence times
    /// the share of letters of a non-Latin script in what it read. The
    /// share matters: a wrong pack can be confident (Hebrew read a Bengali
    /// line at 0.95) but spells it with digits and punctuation
    /// ("| = [ל) לה 50 44%"), where its own script reads as letters.
    fn sample_score(&self, lines: &[RgbImage], latin: bool) -> Result<f32> {
        let (mut weighted, mut chars) = (0.0f32, 0usize);
        for line in lines {
            if let Some(l) = self.pool.with(|tess| tess.read_line(line))? {
                let n = l.text.chars().filter(|c| !c.is_whitespace()).count();
                let letters = l.text.chars().filter(|c| c.is_alphabetic() && (latin || !c.is_ascii())).count();
                weighted += l.confidence * letters as f32;
                chars += n;
            }
        }
        Ok(if chars == 0 { 0.0 } else { weighted / chars as f32 })
    }
}

/// Script detection for `language=auto`, measured against Tesseract's OSD:
/// OSD needs a paragraph of text (it fails outright on one line of Arabic,
/// Devanagari, Bengali or Telugu, and calls Hebrew "Thai" and Thai "Latin"
/// even on three lines), so instead a few of the page's longest lines are read
/// with each installed candidate pack and the most confident pack wins —
/// each LSTM reads its own script with confidence ≥ 0.8 and others' poorly.
impl ScriptRouter for Readers {
    fn reader_for(&self, page: &PagePixels, lines: &[Quad]) -> Result<Option<Arc<dyn PageRecognizer>>> {
        let start = Instant::now();
        let sample: Vec<RgbImage> = lines.iter().filter_map(|q| crop(page, q)).take(SAMPLE_LINES).collect();
        if sample.is_empty() {
            return Ok(None);
        }
        let mut best: Option<(f32, Arc<TesseractReader>)> = None;
        // Latin competes too (as `eng`, whose letters are ASCII): a Latin page
        // the line models read with low confidence (handwriting) stays theirs.
        for (script, pack) in trial_packs() {
            if !self.installed(pack) {
                continue;
            }
            let reader = self.reader(pack)?;
            let score = reader.sample_score(&sample, pack == LATIN_PACK)?;
            debug!(script, pack, score, "script trial");
            if best.as_ref().is_none_or(|(c, _)| score > *c) {
                best = Some((score, reader));
            }
        }
        let chosen = best.filter(|(c, r)| *c >= MIN_SAMPLE_SCORE && r.packs() != LATIN_PACK);
        debug!(
            pack = chosen.as_ref().map(|(_, r)| r.packs()),
            ms = start.elapsed().as_millis() as u64,
            "stage: script"
        );
        Ok(chosen.map(|(_, r)| r as Arc<dyn PageRecognizer>))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_drops_tamil_zwnj_and_reads_micro_as_mu_in_greek() {
        assert_eq!(tidy("க்\u{200C}க".into(), false), "க்க");
        assert_eq!(tidy("a\u{200C}b".into(), false), "a\u{200C}b", "ZWNJ elsewhere is meaningful (Persian)");
        assert_eq!(tidy("µικρό".into(), true), "μικρό");
        assert_eq!(tidy("5 µm".into(), false), "5 µm");
    }

    #[test]
    fn corrupt_traineddata_is_an_error_not_a_crash() {
        let cases: &[(&str, Vec<u8>)] = &[
            ("empty", Vec::new()),
            ("text", b"hello, this is not a model at all".to_vec()),
            ("truncated", {
                let mut b = 24i32.to_le_bytes().to_vec();
                b.extend((0..24).flat_map(|i| (1_000_000i64 + i).to_le_bytes()));
                b
            }),
            ("legacy", {
                let mut b = 24i32.to_le_bytes().to_vec();
                b.extend((0..24).flat_map(|_| (-1i64).to_le_bytes()));
                b
            }),
        ];
        for (name, bytes) in cases {
            let err = check_traineddata(name, bytes, true).unwrap_err();
            assert!(matches!(err, EngineError::InvalidModel { .. }), "{name}: {err}");
        }
    }
}
