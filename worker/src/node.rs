//! The one-call `Engine` class Node uses (`worker/node/ocr.mjs`, the wasm ==
//! native tests and the bench): load models from bytes, OCR a file, export
//! it in any format (the searchable PDF from the original file's bytes).

use ocrchat_engine::{EngineConfig, ExportFormat, ModelEngines, ModelSize, Original, registry};
use wasm_bindgen::prelude::*;

/// A JS error carrying the message and, after it, every source's.
fn js_err(e: ocrchat_engine::EngineError) -> JsError {
    JsError::new(&e.detail())
}

/// An OCR engine with its models loaded.
#[wasm_bindgen]
pub struct Engine {
    inner: ModelEngines,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model from its files' bytes. `size` is `tiny` or `small`.
    #[wasm_bindgen(constructor)]
    pub fn new(size: &str, det_onnx: Vec<u8>, rec_onnx: Vec<u8>, dict: &str) -> Result<Engine, JsError> {
        let size = ModelSize::parse(size).ok_or_else(|| JsError::new("model size must be tiny or small"))?;
        let spec = registry::CATALOG.iter().find(|m| m.size == size).ok_or_else(|| JsError::new("unknown model"))?;
        let inner =
            ModelEngines::from_bytes(spec, det_onnx, rec_onnx, dict, EngineConfig::default()).map_err(js_err)?;
        Ok(Engine { inner })
    }

    /// OCRs a file (PNG, JPEG, WEBP, GIF, BMP, TIFF; PDF in builds with the
    /// `pdf` feature) in `language` (default `auto`; a Latin-script code reads
    /// with the pruned CTC head, as in the browser) and returns the document
    /// as JSON. Only the model's own languages: Tesseract's are the worker's.
    pub fn ocr(&mut self, bytes: &[u8], language: Option<String>) -> Result<String, JsError> {
        let language = language.as_deref().unwrap_or("auto");
        if let registry::Plan::Tesseract(packs) = self.inner.plan(language).map_err(js_err)? {
            return Err(JsError::new(&format!(
                "{language} is read by Tesseract ({packs}): the browser worker reads it"
            )));
        }
        self.inner.prepare(language).map_err(js_err)?;
        let doc = self.inner.engine(language).ocr_bytes(bytes, |_, _| {}).map_err(js_err)?;
        serde_json::to_string(&doc).map_err(|e| JsError::new(&format!("document not serialisable: {e}")))
    }

    /// Renders a document (JSON from [`Engine::ocr`]) in an export format
    /// (`txt`, `md`, `json`, `docx`, `csv`, `pdf`). `original` is the file
    /// the document was read from: the searchable PDF is drawn from it.
    pub fn export(&self, document_json: &str, format: &str, original: Option<Vec<u8>>) -> Result<Vec<u8>, JsError> {
        let doc = serde_json::from_str(document_json).map_err(|e| JsError::new(&format!("not a document: {e}")))?;
        let format = ExportFormat::parse(format).ok_or_else(|| JsError::new("unknown export format"))?;
        let original = original.as_deref().map(|bytes| Original::new(bytes, self.inner.config().limits));
        ocrchat_engine::export(&doc, format, original).map_err(js_err)
    }
}
