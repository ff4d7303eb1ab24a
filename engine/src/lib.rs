//! ocrchat's OCR engine: pure Rust on `rten`, for native targets and
//! `wasm32-unknown-unknown`.
//!
//! The path of a file: [`Source::open`] (sniff, bound, decode on demand) →
//! [`OcrEngine::detect`] (DB text detection) → [`OcrEngine::recognize`]
//! (a [`TextRecognizer`]: lines with word boxes) → [`OcrEngine::layout`]
//! (blocks, tables, reading order) → [`Document`] → [`export()`].
//!
//! The stages are private modules; their data types are re-exported here.
//! One method per stage, plus shortcuts: [`OcrEngine::ocr_image`] (one page
//! image), [`OcrEngine::pages`] (the page driver: every page of a source,
//! text layers of born-digital PDFs included) and [`OcrEngine::ocr_bytes`]
//! (a whole file). The document types, [`ExportFormat`], [`sniff`] and
//! [`ModelSize`] come from `ocrchat-core`, which hosts without the engine
//! (the browser app) share.
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

mod cascade;
mod cpu_clock;
mod ctc_head;
mod decode;
mod detect;
#[cfg(not(target_arch = "wasm32"))]
mod engines;
mod error;
mod export;
mod geometry;
mod layout;
mod model;
mod model_engines;
#[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
mod onnxruntime;
#[cfg(feature = "pdf")]
mod pdf;
#[cfg(feature = "pdf")]
mod pdf_text;
mod pipeline;
mod pixels;
mod recognize;
pub mod registry;
mod runtime;
#[cfg(feature = "tesseract")]
pub mod tesseract;

// The shared types (document model, formats, sniffing, sizes) live in the
// leaf crate every host uses; the engine re-exports them.
pub use ctc_head::Charset;
#[cfg(not(target_arch = "wasm32"))]
pub use engines::{Engines, LanguageStatus};
use ocrchat_core::document;
pub use ocrchat_core::{
    BBox, Block, BlockKind, Document, ExportFormat, InputFormat, Line, ModelSize, Page, PageSource, SniffError, Word,
    sniff,
};
#[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
pub use onnxruntime::{
    LIBRARY_VERSION as ONNXRUNTIME_VERSION, OrtDetector, OrtRecognizer, SessionSettings,
    library_path as onnxruntime_library_path,
};
pub use runtime::Runtime;

pub use cascade::CascadeRecognizer;
pub use decode::{DecodeLimits, ImageSource, Source};
pub use detect::{DetParams, TextRegion};
pub use error::{BoxError, EngineError};
pub use export::{Original, export};
pub use geometry::{Point, Quad};
pub use layout::LayoutParams;
pub use model::{
    DetectionModel, FrameBest, Normalization, PageRead, PageRecognizer, RecognitionModel, RtenDetector, RtenRecognizer,
    ScriptRouter, TextRecognizer,
};
pub use model_engines::ModelEngines;
#[cfg(feature = "pdf")]
pub use pdf::PdfSource;
#[cfg(feature = "pdf")]
pub use pdf_text::TextLayer;
pub use pipeline::{EngineConfig, OcrEngine, PageError, PageReader, PageRouting, Planned, ReadPage};
pub use pixels::PagePixels;
pub use recognize::{CtcRecognizer, RecParams, RecognizedLine, RecognizedWord};
pub use registry::ModelSpec;

/// Builds an engine from model bytes (what the wasm worker does after fetching
/// them), on the runtime `config.runtime` resolves to (see [`Runtime`]; the
/// engine's [`OcrEngine::config`] names it). The recogniser's bytes are only
/// read: [`ModelEngines`] keeps them for its pruned head.
pub fn engine_from_bytes(
    spec: &ModelSpec,
    det_onnx: Vec<u8>,
    rec_onnx: &[u8],
    dict: &str,
    config: EngineConfig,
) -> Result<OcrEngine, EngineError> {
    // The engine's config names the runtime that runs, never `Auto`.
    let config = EngineConfig { runtime: config.runtime.resolve()?, ..config };
    let det = detector_from_bytes(spec, det_onnx, &config)?;
    let rec = recognizer_from_bytes(spec, rec_onnx, dict, &config)?;
    Ok(OcrEngine::new(det, rec, config))
}

/// `spec`'s detection network on the runtime `config.runtime` resolves to.
pub fn detector_from_bytes(
    spec: &ModelSpec,
    det_onnx: Vec<u8>,
    config: &EngineConfig,
) -> Result<Box<dyn DetectionModel>, EngineError> {
    let name = format!("{}/det", spec.name);
    Ok(match config.runtime.resolve()? {
        #[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
        Runtime::OnnxRuntime => Box::new(OrtDetector::from_bytes(&name, det_onnx, config.detector_session_settings())?),
        _ => Box::new(RtenDetector::from_bytes(&name, det_onnx)?),
    })
}

/// `spec`'s line recogniser (its CTC head pruned to `config.charset`) on the
/// runtime `config.runtime` resolves to.
pub fn recognizer_from_bytes(
    spec: &ModelSpec,
    rec_onnx: &[u8],
    dict: &str,
    config: &EngineConfig,
) -> Result<Box<dyn TextRecognizer>, EngineError> {
    let name = format!("{}/rec", spec.name);
    Ok(match config.runtime.resolve()? {
        #[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
        Runtime::OnnxRuntime => Box::new(CtcRecognizer(OrtRecognizer::with_charset(
            &name,
            rec_onnx,
            dict,
            config.charset,
            config.session_settings(),
        )?)),
        _ => Box::new(CtcRecognizer(RtenRecognizer::with_charset(&name, rec_onnx, dict, config.charset)?)),
    })
}

/// The small model's recogniser with int8 weights and activations (QDQ,
/// per-channel), made by `scripts/quantize-models.sh` from `rec.onnx`; its CTC
/// head stays float so it can still be pruned. onnxruntime only.
pub const INT8_REC_FILE: &str = "rec.int8.onnx";

/// The recogniser file `load_engine` reads for `spec` under `config`: the
/// int8 one when asked for, on onnxruntime, where the model has one.
#[cfg(not(target_arch = "wasm32"))]
pub fn recognizer_file(spec: &ModelSpec, config: &EngineConfig) -> Result<&'static str, EngineError> {
    let int8 = config.int8 && spec.int8 && config.runtime.resolve()? == Runtime::OnnxRuntime;
    Ok(if int8 { INT8_REC_FILE } else { "rec.onnx" })
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
            .map_err(|e| EngineError::ModelsMissing { detail: base.join(f).display().to_string(), source: Some(e) })
    };
    let dict = String::from_utf8(read("dict.txt")?)
        .map_err(|e| EngineError::InvalidModel { name: spec.name.into(), source: e.into() })?;
    engine_from_bytes(spec, read("det.onnx")?, &read(recognizer_file(spec, &config)?)?, &dict, config)
}
