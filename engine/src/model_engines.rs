//! The engines of one PP-OCR model loaded from bytes — how the browser
//! worker gets its models — one per character set its languages need: the
//! CTC head pruned to a language's characters by the rule native
//! [`crate::Engines`] follows ([`registry::charset_for`]), the detector
//! loaded once and shared.
//!
//! The pruned head reads a Latin page as the full head does (`head_prune.rs`)
//! in less time: the head's MatMul, Softmax and ArgMax over 6,906 (tiny) or
//! 18,710 (small) classes are about a tenth of a page under rten.

use std::collections::HashMap;

use crate::{Charset, EngineConfig, EngineError, ModelSize, ModelSpec, OcrEngine, registry};

/// A model's engine for every language, pruned ones made on first need.
pub struct ModelEngines {
    spec: ModelSpec,
    /// The recogniser's file, kept until the pruned recogniser is made from
    /// it: Latin is the only pruned charset, so it is dropped then.
    rec_onnx: Option<Vec<u8>>,
    dict: String,
    /// Every class: `auto`, CJK, and any language before [`Self::prepare`].
    full: OcrEngine,
    pruned: HashMap<Charset, OcrEngine>,
}

impl ModelEngines {
    /// Loads `spec`'s model from its files' bytes, with every class of its
    /// head (`config.charset` is ignored: the language decides it).
    pub fn from_bytes(
        spec: &ModelSpec,
        det_onnx: Vec<u8>,
        rec_onnx: Vec<u8>,
        dict: &str,
        config: EngineConfig,
    ) -> Result<Self, EngineError> {
        let config = EngineConfig { charset: Charset::All, ..config };
        let full = crate::engine_from_bytes(spec, det_onnx, rec_onnx.clone(), dict, config)?;
        Ok(Self { spec: *spec, rec_onnx: Some(rec_onnx), dict: dict.to_string(), full, pruned: HashMap::new() })
    }

    /// The model's size.
    pub fn size(&self) -> ModelSize {
        self.spec.size
    }

    /// Makes the engine for `language` if it reads with a pruned head that
    /// is not made yet (a one-time load of the recogniser).
    pub fn prepare(&mut self, language: &str) -> Result<(), EngineError> {
        let charset = registry::charset_for(language);
        if charset == Charset::All || self.pruned.contains_key(&charset) {
            return Ok(());
        }
        let Some(rec_onnx) = self.rec_onnx.take() else { return Ok(()) };
        let config = EngineConfig { charset, ..*self.full.config() };
        let rec = crate::recognizer_from_bytes(&self.spec, rec_onnx, &self.dict, &config)?;
        self.pruned.insert(charset, self.full.with_recognizer(rec, charset));
        Ok(())
    }

    /// The engine for `language`: its pruned head once [`Self::prepare`]d,
    /// else every class (the same text, a little slower).
    pub fn engine(&self, language: &str) -> &OcrEngine {
        self.pruned.get(&registry::charset_for(language)).unwrap_or(&self.full)
    }
}
