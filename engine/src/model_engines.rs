//! The engines of one PP-OCR model loaded from bytes — how the browser
//! worker gets its models — one per character set its languages need: the
//! CTC head pruned to a language's characters by the rule native
//! [`crate::Engines`] follows ([`registry::charset_for`]), the detector
//! loaded once and shared.
//!
//! The pruned head reads a Latin page as the full head does (`head_prune.rs`)
//! in less time: the head's MatMul, Softmax and ArgMax over 6,906 (tiny) or
//! 18,710 (small) classes are about a tenth of a page under rten.

use crate::registry::{self, Plan};
use crate::{Charset, EngineConfig, EngineError, ModelSize, ModelSpec, OcrEngine};

/// A model's engine for every language it reads, the pruned one made on
/// first need.
pub struct ModelEngines {
    spec: ModelSpec,
    /// The recogniser's file, kept until the pruned recogniser is made from
    /// it (4.5 MB tiny, 21 MB small).
    rec_onnx: Option<Vec<u8>>,
    dict: String,
    /// Every class: `auto`, CJK, and a Latin-script language before [`Self::prepare`].
    full: OcrEngine,
    /// The head pruned to [`Charset::Latin`], the one pruned charset.
    latin: Option<OcrEngine>,
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
        let full = crate::engine_from_bytes(spec, det_onnx, &rec_onnx, dict, config)?;
        Ok(Self { spec: *spec, rec_onnx: Some(rec_onnx), dict: dict.to_string(), full, latin: None })
    }

    /// The model's size.
    pub fn size(&self) -> ModelSize {
        self.spec.size
    }

    /// The settings every engine of the model shares (the pruned one differs
    /// only in its charset): decode limits, runtime, threads.
    pub fn config(&self) -> &EngineConfig {
        self.full.config()
    }

    /// How `language` is read: its plan, refused when it is one of the line
    /// models' languages and this model does not serve it (the rule
    /// [`registry::select_model`] applies to installed models natively).
    pub fn plan(&self, language: &str) -> Result<Plan, EngineError> {
        let plan = registry::plan(language)?;
        if plan == Plan::Lines {
            registry::select_model(language, self.spec.size, std::slice::from_ref(&self.spec))?;
        }
        Ok(plan)
    }

    /// Makes the engine for `language` if it reads with the pruned head and
    /// that is not made yet (a one-time load of the recogniser; the file is
    /// dropped once it is made).
    pub fn prepare(&mut self, language: &str) -> Result<(), EngineError> {
        if registry::charset_for(language) != Charset::Latin || self.latin.is_some() {
            return Ok(());
        }
        let Some(rec_onnx) = self.rec_onnx.as_deref() else { return Ok(()) };
        let config = EngineConfig { charset: Charset::Latin, ..*self.full.config() };
        let rec = crate::recognizer_from_bytes(&self.spec, rec_onnx, &self.dict, &config)?;
        self.latin = Some(self.full.with_recognizer(rec, Charset::Latin));
        self.rec_onnx = None;
        Ok(())
    }

    /// The engine for `language`: the pruned head for a Latin-script language
    /// once [`Self::prepare`]d, else every class (the same text, a little slower).
    pub fn engine(&self, language: &str) -> &OcrEngine {
        match (registry::charset_for(language), &self.latin) {
            (Charset::Latin, Some(latin)) => latin,
            _ => &self.full,
        }
    }
}
