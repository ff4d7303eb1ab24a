//! The one-call `Engine` class Node uses (`worker/node/ocr.mjs`, the wasm ==
//! native tests and the bench): load models from bytes, OCR a file, export.

use ocrchat_engine::{EngineConfig, ExportFormat, ModelSize, OcrEngine, registry};
use wasm_bindgen::prelude::*;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// An OCR engine with its models loaded.
#[wasm_bindgen]
pub struct Engine {
    inner: OcrEngine,
}

#[wasm_bindgen]
impl Engine {
    /// Loads a model from its files' bytes. `size` is `tiny` or `small`.
    #[wasm_bindgen(constructor)]
    pub fn new(size: &str, det_onnx: Vec<u8>, rec_onnx: Vec<u8>, dict: &str) -> Result<Engine, JsError> {
        let size = ModelSize::parse(size).ok_or_else(|| JsError::new("model size must be tiny or small"))?;
        let spec = registry::CATALOG.iter().find(|m| m.size == size).ok_or_else(|| JsError::new("unknown model"))?;
        let inner = ocrchat_engine::engine_from_bytes(spec, det_onnx, rec_onnx, dict, EngineConfig::default())
            .map_err(js_err)?;
        Ok(Engine { inner })
    }

    /// OCRs an image file (PNG, JPEG, WEBP, GIF, BMP, TIFF) and returns the
    /// document as JSON.
    pub fn ocr(&self, bytes: &[u8]) -> Result<String, JsError> {
        let doc = self.inner.ocr_bytes(bytes, |_, _| {}).map_err(js_err)?;
        serde_json::to_string(&doc).map_err(js_err)
    }

    /// Renders a document (JSON from [`Engine::ocr`]) in an export format.
    pub fn export(&self, document_json: &str, format: &str) -> Result<Vec<u8>, JsError> {
        let doc = serde_json::from_str(document_json).map_err(js_err)?;
        let format = ExportFormat::parse(format).ok_or_else(|| JsError::new("unknown export format"))?;
        ocrchat_engine::export::export(&doc, format).map_err(js_err)
    }
}
