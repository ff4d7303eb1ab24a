//! The engines a native host runs (server, CLI, benches), one per language
//! asked for, all sharing the loaded networks: PP-OCR models load once per
//! model and character set, Tesseract packs once per pack set.
//!
//! This is where a language code becomes a way of reading: PP-OCR for the
//! languages it serves, Tesseract for the rest, and for `auto` the PP-OCR
//! engine with Tesseract's script detector routing each page whose script
//! PP-OCR does not read (when `osd` and the packs are installed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::registry::{self, Family, Language, Plan};
use crate::{Charset, EngineConfig, EngineError, ModelSize, ModelSpec, OcrEngine};

/// Where Tesseract packs live under the models directory.
pub const TESSDATA_DIR: &str = "tessdata";

/// A language and whether this machine can read it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanguageStatus {
    /// The table's entry.
    pub language: &'static Language,
    /// The family that reads it.
    pub family: Family,
    /// Its model (PP-OCR) or packs (Tesseract) are installed.
    pub installed: bool,
}

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
            tesseract: Arc::new(crate::tesseract::Readers::new(&dir.join(TESSDATA_DIR))),
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
        let pp = registry::supported_languages(&self.installed);
        registry::languages()
            .iter()
            .filter_map(|language| {
                let family = registry::family_of(language.code)?;
                let installed = match family {
                    Family::PpOcr => pp.contains(&language.code),
                    Family::Tesseract => language.packs.is_some_and(|p| self.packs_installed(p)),
                };
                Some(LanguageStatus { language, family, installed })
            })
            .collect()
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
        let engine = match self.check(&code)? {
            Plan::Lines => {
                let base = self.base_engine(&code)?;
                self.with_auto_routing(&code, base)
            }
            Plan::Tesseract(packs) => self.tesseract_engine(&packs)?,
        };
        lock(&self.by_language).insert(code, Arc::clone(&engine));
        Ok(engine)
    }

    /// `auto` routes pages in scripts PP-OCR does not read to Tesseract, when
    /// its script detector is installed; other codes keep the base engine.
    fn with_auto_routing(&self, code: &str, base: Arc<OcrEngine>) -> Arc<OcrEngine> {
        #[cfg(feature = "tesseract")]
        if code == "auto" && self.tesseract.osd_installed() {
            let router: Arc<dyn crate::ScriptRouter> = Arc::clone(&self.tesseract) as _;
            return Arc::new(base.with_routing(crate::PageRouting::ByScript(router)));
        }
        let _ = code;
        base
    }

    /// An engine whose every page Tesseract reads with `packs`. It carries a
    /// PP-OCR engine's models only for what the pipeline shares (the PDF
    /// text-layer check), loading none of its own.
    fn tesseract_engine(&self, packs: &str) -> Result<Arc<OcrEngine>, EngineError> {
        #[cfg(feature = "tesseract")]
        {
            let reader = self.tesseract.reader(packs)?;
            let base = self.base_engine("auto")?;
            Ok(Arc::new(base.with_routing(crate::PageRouting::Always(reader))))
        }
        #[cfg(not(feature = "tesseract"))]
        {
            let _ = packs;
            Err(EngineError::NotBuiltIn { what: "Tesseract", feature: "tesseract" })
        }
    }
}
