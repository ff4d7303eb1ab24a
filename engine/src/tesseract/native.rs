//! The native backend: `libtesseract.so.5` (opened at run time by
//! `tesseract-capi`) with packs from a tessdata directory.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::{Orientation, TessBackend, TessError, TessInstance, TessLine, check_traineddata, engine_error};
use crate::error::{EngineError, Result};
use tesseract_capi::TessApi;

/// The Tesseract library's version, or why it cannot be loaded.
pub fn library_version() -> std::result::Result<String, String> {
    tesseract_capi::version().map_err(|e| e.to_string())
}

/// Packs as `<dir>/<pack>.traineddata` files, read by the native library.
pub struct Tessdata {
    dir: PathBuf,
}

impl Tessdata {
    /// The packs in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf() }
    }
}

impl TessBackend for Tessdata {
    fn has_pack(&self, pack: &str) -> bool {
        tesseract_capi::version().is_ok() && self.dir.join(format!("{pack}.traineddata")).is_file()
    }

    fn open(&self, packs: &str) -> Result<Box<dyn TessInstance>> {
        for pack in packs.split('+') {
            let path = self.dir.join(format!("{pack}.traineddata"));
            let bytes = std::fs::read(&path)
                .map_err(|e| EngineError::ModelsMissing { detail: path.display().to_string(), source: Some(e) })?;
            check_traineddata(&path.display().to_string(), &bytes, pack != "osd")?;
        }
        Ok(Box::new(TessApi::new(&self.dir, packs).map_err(engine_error)?))
    }
}

impl TessInstance for TessApi {
    fn read(&mut self, image: &RgbImage) -> std::result::Result<Vec<TessLine>, TessError> {
        self.set_image(image.as_raw(), image.width(), image.height());
        TessApi::read(self)
    }

    fn read_line(&mut self, image: &RgbImage) -> std::result::Result<Option<TessLine>, TessError> {
        self.set_image(image.as_raw(), image.width(), image.height());
        TessApi::read_line(self)
    }

    fn orientation(&mut self, image: &RgbImage) -> std::result::Result<Option<Orientation>, TessError> {
        self.set_image(image.as_raw(), image.width(), image.height());
        Ok(TessApi::orientation(self))
    }
}
