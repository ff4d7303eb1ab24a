//! The OCR engines the server runs, loaded once per model and shared by all
//! workers (`OcrEngine` is `Sync`; inference runs on blocking threads).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ocrchat_engine::{Charset, EngineConfig, EngineError, ModelSize, ModelSpec, OcrEngine, registry};

/// Lazily loaded engines, one per installed model and character set (a
/// Latin-script language loads the model with a pruned, faster CTC head).
pub struct Engines {
    dir: PathBuf,
    installed: Vec<ModelSpec>,
    preferred: ModelSize,
    config: EngineConfig,
    loaded: Mutex<HashMap<(&'static str, Charset), Arc<OcrEngine>>>,
}

impl Engines {
    /// Engines for the models under `dir`, preferring `preferred` where it serves the language.
    pub fn new(dir: &Path, preferred: ModelSize, config: EngineConfig) -> Self {
        Self {
            dir: dir.to_path_buf(),
            installed: ocrchat_engine::installed_models(dir),
            preferred,
            config,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Models present on disk.
    pub fn installed(&self) -> &[ModelSpec] {
        &self.installed
    }

    /// Which model would serve `language` (validates the code without loading anything).
    pub fn model_for(&self, language: &str) -> Result<ModelSpec, EngineError> {
        registry::select_model(language, self.preferred, &self.installed)
    }

    /// The engine for `language`, loading its model on first use.
    pub fn for_language(&self, language: &str) -> Result<Arc<OcrEngine>, EngineError> {
        let spec = self.model_for(language)?;
        let charset = registry::charset_for(language);
        let key = (spec.name, charset);
        if let Some(engine) = self.loaded.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(Arc::clone(engine));
        }
        // Loading takes ~100 ms; two first requests racing may both load, and
        // the second insert wins — harmless, and no lock is held while loading.
        let config = EngineConfig { charset, ..self.config };
        let engine = Arc::new(ocrchat_engine::load_engine(&self.dir, &spec, config)?);
        self.loaded.lock().unwrap_or_else(|e| e.into_inner()).insert(key, Arc::clone(&engine));
        Ok(engine)
    }

    /// Decode limits every engine applies.
    pub fn limits(&self) -> ocrchat_engine::DecodeLimits {
        self.config.limits
    }
}
