//! ocrchat's OCR engine: pure Rust on `rten`, for native targets and
//! `wasm32-unknown-unknown`.
//!
//! The path of a file: [`decode`] (sniff, bound, decode) → [`OcrEngine::detect`]
//! (DB text detection) → [`OcrEngine::recognize`] (CTC recognition with word
//! boxes) → [`OcrEngine::layout`] (blocks, tables, reading order) →
//! [`Document`] → [`export`].
//!
//! ```no_run
//! # fn main() -> Result<(), ocrchat_engine::EngineError> {
//! use ocrchat_engine::{EngineConfig, ModelSize, load_engine, registry};
//! let spec = registry::select_model("en", ModelSize::Small, registry::CATALOG)?;
//! let engine = load_engine(std::path::Path::new("models"), &spec, EngineConfig::default())?;
//! let doc = engine.ocr_bytes(&std::fs::read("page.png").unwrap(), |_, _| {})?;
//! println!("{}", doc.text());
//! # Ok(()) }
//! ```

mod cpu_clock;
pub mod decode;
pub mod detect;
pub mod document;
pub mod error;
pub mod export;
pub mod geometry;
mod head_prune;
pub mod layout;
pub mod model;
#[cfg(feature = "pdf")]
pub mod pdf;
#[cfg(feature = "pdf")]
mod pdf_text;
mod pipeline;
pub mod recognize;
pub mod registry;

pub use decode::{DecodeLimits, InputFormat, Source};
pub use document::{BBox, Block, BlockKind, Document, Line, Page, PageSource, Word};
pub use error::EngineError;
pub use export::ExportFormat;
pub use head_prune::Charset;
pub use pipeline::{EngineConfig, OcrEngine, TextLayerCheck};
pub use registry::{ModelSize, ModelSpec};

use model::{RtenDetector, RtenRecognizer};

/// Builds an engine from model bytes (what the wasm worker does after fetching them).
pub fn engine_from_bytes(
    spec: &ModelSpec,
    det_onnx: Vec<u8>,
    rec_onnx: Vec<u8>,
    dict: &str,
    config: EngineConfig,
) -> Result<OcrEngine, EngineError> {
    let det = RtenDetector::from_bytes(&format!("{}/det", spec.name), det_onnx)?;
    let rec = RtenRecognizer::with_charset(&format!("{}/rec", spec.name), rec_onnx, dict, config.charset)?;
    Ok(OcrEngine::new(Box::new(det), Box::new(rec), config))
}

/// Models of the catalog whose files are present under `dir`.
#[cfg(not(target_arch = "wasm32"))]
pub fn installed_models(dir: &std::path::Path) -> Vec<ModelSpec> {
    registry::CATALOG
        .iter()
        .filter(|m| ["det.onnx", "rec.onnx", "dict.txt"].iter().all(|f| dir.join(m.name).join(f).is_file()))
        .copied()
        .collect()
}

/// Loads `spec`'s files from `dir/<name>/`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load_engine(dir: &std::path::Path, spec: &ModelSpec, config: EngineConfig) -> Result<OcrEngine, EngineError> {
    let base = dir.join(spec.name);
    let read = |f: &str| {
        std::fs::read(base.join(f))
            .map_err(|e| EngineError::ModelsMissing { detail: format!("{}: {e}", base.join(f).display()) })
    };
    let dict = String::from_utf8(read("dict.txt")?)
        .map_err(|e| EngineError::InvalidModel { name: spec.name.into(), reason: e.to_string() })?;
    engine_from_bytes(spec, read("det.onnx")?, read("rec.onnx")?, &dict, config)
}
