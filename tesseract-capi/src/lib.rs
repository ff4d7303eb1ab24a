//! Tesseract 5 from Rust through its C API (`tesseract/capi.h`, stable since
//! 4.0), with the library opened at run time: the engine then builds on any
//! machine (no `libtesseract-dev`, no bindgen/libclang), and a machine
//! without `libtesseract.so.5` still serves every other language — asking
//! for a Tesseract one is a clear error rather than a binary that will not
//! start. All of the workspace's `unsafe` lives here, each block with the
//! reason it is sound; callers get `TessApi`, a safe handle.
//!
//! On wasm32 only the types are built: the browser worker drives
//! tesseract-wasm (Tesseract compiled to wasm) and returns the same
//! [`TessLine`]s, so the engine's Tesseract code is one for both.

#[cfg(not(target_arch = "wasm32"))]
mod api;
#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::{TessApi, version};

/// What can go wrong talking to Tesseract.
#[derive(Debug, thiserror::Error)]
pub enum TessError {
    /// `libtesseract.so.5` could not be opened or lacks a C API symbol.
    #[error("the Tesseract library could not be loaded: {0}")]
    Library(String),
    /// `TessBaseAPIInit2` refused the packs (missing or unreadable files).
    #[error("Tesseract could not load {packs} from {datapath}")]
    Init {
        /// The `+`-joined packs.
        packs: String,
        /// The tessdata directory.
        datapath: String,
    },
    /// `TessBaseAPIRecognize` failed on the page.
    #[error("Tesseract could not recognise the page")]
    Recognize,
    /// tesseract-wasm (the browser's build) threw; its message.
    #[error("tesseract-wasm: {0}")]
    Wasm(String),
}

/// A word: pixel box `[left, top, right, bottom]`, text, confidence 0–1.
#[derive(Clone, Debug, PartialEq)]
pub struct TessWord {
    /// Bounding box in image pixels.
    pub bbox: [i32; 4],
    /// The word.
    pub text: String,
    /// Tesseract's confidence divided by 100.
    pub confidence: f32,
}

/// A text line with its words in reading order (right to left within
/// right-to-left lines: Tesseract's `ResultIterator` handles bidi).
#[derive(Clone, Debug, PartialEq)]
pub struct TessLine {
    /// Bounding box in image pixels.
    pub bbox: [i32; 4],
    /// The line as Tesseract spells it (its spacing, logical order).
    pub text: String,
    /// Tesseract's confidence divided by 100.
    pub confidence: f32,
    /// The words.
    pub words: Vec<TessWord>,
}

/// What orientation-and-script detection (`osd` pack) says about a page.
#[derive(Clone, Debug, PartialEq)]
pub struct Orientation {
    /// Clockwise degrees the page is turned (0, 90, 180, 270).
    pub degrees: u16,
    /// Orientation confidence (≥ 2 is usually right).
    pub confidence: f32,
    /// Script name as OSD spells it ("Latin", "Cyrillic", "Han"…).
    pub script: String,
    /// Script confidence.
    pub script_confidence: f32,
}
