//! The engines a native host runs (server, CLI, benches), one per language
//! asked for, all sharing the loaded networks: PP-OCR models load once per
//! model and character set, Tesseract packs once per pack set.
//!
//! This is where a language code becomes a way of reading: PP-OCR for the
//! languages it serves, Tesseract for the rest, and for `auto` the PP-OCR
//! engine routing each page PP-OCR reads poorly to the Tesseract pack of its
//! script (the script trial of [`crate::tesseract::Readers`]), when packs
//! are installed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use crate::registry::LanguageStatus;
use crate::registry::{self, Plan, TESSDATA_DIR};
use crate::{Charset, EngineConfig, EngineError, ModelSize, ModelSpec, OcrEngine};

/// Lazily loaded engines for the models under one directory.
pub struct Engines {
    dir: PathBuf,
    installed: Vec<ModelSpec>,
    preferred: ModelSize,
    config: EngineConfig,
    base: Mutex<HashMap<(&'static str, Charset), Arc<OcrEngine>>>,
    by_language: Mutex<HashMap<String, Arc<OcrEngine>>>,
    #[cfg(feature = "tesseract")]
    tesseract: Arc<crate::tesseract::Readers>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engines {
    /// Engines for the models under `dir`, preferring `preferred` where it serves the language.
    pub fn new(dir: &Path, preferred: ModelSize, config: EngineConfig) -> Self {
        Self {
            dir: dir.to_path_buf(),
            installed: crate::installed_models(dir),
            preferred,
            config,
            base: Mutex::new(HashMap::new()),
            by_language: Mutex::new(HashMap::new()),
            #[cfg(feature = "tesseract")]
            tesseract: Arc::new(crate::tesseract::Readers::new(Arc::new(crate::tesseract::Tessdata::new(
                &dir.join(TESSDATA_DIR),
            )))),
        }
    }

    /// PP-OCR models present on disk.
    pub fn installed(&self) -> &[ModelSpec] {
        &self.installed
    }

    /// Decode limits every engine applies.
    pub fn limits(&self) -> crate::DecodeLimits {
        self.config.limits
    }

    /// Whether Tesseract `packs` (`+`-joined) can be loaded here.
    fn packs_installed(&self, packs: &str) -> bool {
        #[cfg(feature = "tesseract")]
        {
            self.tesseract.installed(packs)
        }
        #[cfg(not(feature = "tesseract"))]
        {
            let _ = packs;
            false
        }
    }

    /// Every known language, its family and whether it can be read here.
    pub fn languages(&self) -> Vec<LanguageStatus> {
        registry::language_statuses(&registry::supported_languages(&self.installed), |p| self.packs_installed(p))
    }

    /// How `language` would be read, checking its code and that what reads
    /// it is installed, without loading anything.
    pub fn check(&self, language: &str) -> Result<Plan, EngineError> {
        let plan = registry::plan(language)?;
        match &plan {
            Plan::Lines => {
                registry::select_model(language, self.preferred, &self.installed)?;
            }
            Plan::Tesseract(packs) => {
                if !self.packs_installed(packs) {
                    let missing: Vec<&str> = packs.split('+').filter(|p| !self.packs_installed(p)).collect();
                    return Err(EngineError::LanguageNotInstalled {
                        code: language.to_string(),
                        packs: if missing.is_empty() { packs.clone() } else { missing.join("+") },
                    });
                }
            }
        }
        Ok(plan)
    }

    /// The PP-OCR engine for `language` (shared by every language it serves).
    fn base_engine(&self, language: &str) -> Result<Arc<OcrEngine>, EngineError> {
        let spec = registry::select_model(language, self.preferred, &self.installed)?;
        let charset = registry::charset_for(language);
        let key = (spec.name, charset);
        if let Some(engine) = lock(&self.base).get(&key) {
            return Ok(Arc::clone(engine));
        }
        // Loading takes ~100 ms; two first requests racing may both load, and
        // the second insert wins — harmless, and no lock is held while loading.
        let config = EngineConfig { charset, ..self.config };
        let engine = Arc::new(crate::load_engine(&self.dir, &spec, config)?);
        lock(&self.base).insert(key, Arc::clone(&engine));
        Ok(engine)
    }

    /// The engine for `language`, loading what it needs on first use.
    pub fn for_language(&self, language: &str) -> Result<Arc<OcrEngine>, EngineError> {
        let code = registry::canonical_language(language);
        if let Some(engine) = lock(&self.by_language).get(&code) {
            return Ok(Arc::clone(engine));
        }
        let plan = self.check(&code)?;
        // Tesseract codes carry a PP-OCR engine's models only for what the
        // pipeline shares (the PDF text-layer check), loading none of their own.
        let base = self.base_engine(if matches!(plan, Plan::Lines) { &code } else { "auto" })?;
        let engine = self.routed(&code, &plan, base)?;
        lock(&self.by_language).insert(code, Arc::clone(&engine));
        Ok(engine)
    }

    /// `base` with the page routing `code` needs (see
    /// [`crate::tesseract::routing_for`]): Tesseract for its codes, the
    /// script trial for `auto`; other codes keep `base`.
    fn routed(&self, code: &str, plan: &Plan, base: Arc<OcrEngine>) -> Result<Arc<OcrEngine>, EngineError> {
        #[cfg(feature = "tesseract")]
        if let Some(routing) = crate::tesseract::routing_for(code, plan, &self.tesseract)? {
            return Ok(Arc::new(base.with_routing(routing)));
        }
        #[cfg(not(feature = "tesseract"))]
        if matches!(plan, Plan::Tesseract(_)) {
            return Err(EngineError::NotBuiltIn { what: "Tesseract", feature: "tesseract" });
        }
        let _ = (code, plan);
        Ok(base)
    }
}
