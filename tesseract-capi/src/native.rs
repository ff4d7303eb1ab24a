//! The native half: `TessApi` over `libtesseract.so.5`'s C API.

use std::ffi::{CStr, c_int};
use std::path::Path;

use crate::api::{self, Api, Handle, Level};
use crate::{Orientation, TessError, TessLine, TessWord};

/// The library's version string, e.g. "5.3.0".
pub fn version() -> Result<String, TessError> {
    Api::get().map(Api::version_string).map_err(|e| TessError::Library(e.to_string()))
}

/// `TessPageSegMode::PSM_AUTO`: full page segmentation without OSD (the CLI's default).
const PSM_AUTO: c_int = 3;
/// `PSM_SINGLE_LINE`: the image is one text line.
const PSM_SINGLE_LINE: c_int = 7;
/// `TessOcrEngineMode::OEM_LSTM_ONLY`: tessdata_fast packs carry only the LSTM.
const OEM_LSTM_ONLY: c_int = 1;
/// `OEM_TESSERACT_ONLY`: the `osd` pack is a legacy-engine model.
const OEM_TESSERACT_ONLY: c_int = 0;

/// One initialised `TessBaseAPI`. Not `Sync`: one page at a time.
pub struct TessApi {
    api: &'static Api,
    handle: Handle,
}

// SAFETY: a TessBaseAPI has no thread affinity; `&mut self` on every call
// keeps it to one thread at a time.
#[allow(unsafe_code)]
unsafe impl Send for TessApi {}

#[allow(unsafe_code)]
impl TessApi {
    /// Loads `packs` (`"rus"`, `"rus+eng"`, or `"osd"` alone) from `datapath`:
    /// the LSTM of language packs, the legacy engine of `osd`.
    pub fn new(datapath: &Path, packs: &str) -> Result<Self, TessError> {
        let api = Api::get().map_err(|e| TessError::Library(e.to_string()))?;
        // SAFETY: create has no preconditions; the handle is deleted in Drop.
        let tess = TessApi { api, handle: unsafe { (api.create)() } };
        let (dir, lang) = (api::cstring(&datapath.to_string_lossy()), api::cstring(packs));
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        let oem = if packs == "osd" { OEM_TESSERACT_ONLY } else { OEM_LSTM_ONLY };
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        let rc = unsafe { (api.init2)(tess.handle, dir.as_ptr(), lang.as_ptr(), oem) };
        if rc != 0 {
            return Err(TessError::Init { packs: packs.into(), datapath: datapath.display().to_string() });
        }
        // Tesseract's own diagnostics would go to stderr on every page.
        tess.set_variable("debug_file", "/dev/null");
        // SAFETY: valid handle.
        unsafe { (api.set_page_seg_mode)(tess.handle, PSM_AUTO) };
        Ok(tess)
    }

    fn set_variable(&self, name: &str, value: &str) {
        let (n, v) = (api::cstring(name), api::cstring(value));
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        unsafe { (self.api.set_variable)(self.handle, n.as_ptr(), v.as_ptr()) };
    }

    /// Hands an RGB image (`width * height * 3` bytes, rows packed) to
    /// Tesseract, which copies it. No resolution is passed: Tesseract then
    /// estimates it from the text's x-height, as its CLI does for images
    /// without a density — density fields are often missing or wrong, and a
    /// fixed guess of 300 dpi made `kor` drop the last word of a 150 dpi line.
    ///
    /// # Panics
    /// When `rgb` is shorter than `width * height * 3`.
    pub fn set_image(&mut self, rgb: &[u8], width: u32, height: u32) {
        assert!(rgb.len() >= width as usize * height as usize * 3, "image buffer too short");
        let (w, h) = (width as c_int, height as c_int);
        // SAFETY: the buffer holds w*h*3 bytes (asserted), rows of 3*w bytes.
        unsafe { (self.api.set_image)(self.handle, rgb.as_ptr(), w, h, 3, 3 * w) };
    }

    /// Reads the image set last as one text line (then forgets it; the
    /// next [`Self::read`] segments pages again).
    pub fn read_line(&mut self) -> Result<Option<TessLine>, TessError> {
        // SAFETY: valid handle.
        unsafe { (self.api.set_page_seg_mode)(self.handle, PSM_SINGLE_LINE) };
        let lines = self.read();
        // SAFETY: valid handle.
        unsafe { (self.api.set_page_seg_mode)(self.handle, PSM_AUTO) };
        Ok(lines?.into_iter().next())
    }

    /// Segments and reads the image set last (then forgets it).
    pub fn read(&mut self) -> Result<Vec<TessLine>, TessError> {
        let api = self.api;
        // SAFETY: valid handle; a null monitor means no progress/cancel.
        let rc = unsafe { (api.recognize)(self.handle, std::ptr::null_mut()) };
        if rc != 0 {
            self.clear();
            return Err(TessError::Recognize);
        }
        // SAFETY: valid after Recognize; null when nothing was found.
        let it = unsafe { (api.get_iterator)(self.handle) };
        if it.is_null() {
            self.clear();
            return Ok(Vec::new());
        }
        let mut lines: Vec<TessLine> = Vec::new();
        // SAFETY: `it` is a valid result iterator until deleted at the end;
        // its page iterator is the same object (a C++ base-class cast);
        // strings Tesseract returns are freed once by `owned_text`.
        unsafe {
            let page_it = (api.result_page_iterator)(it);
            let bbox = |level: Level| {
                let (mut l, mut t, mut r, mut b) = (0, 0, 0, 0);
                let ok = (api.page_bounding_box)(page_it, level, &mut l, &mut t, &mut r, &mut b) != 0;
                ok.then_some([l, t, r, b])
            };
            loop {
                if (api.page_is_at_beginning_of)(page_it, Level::TextLine) != 0
                    && let Some(b) = bbox(Level::TextLine)
                {
                    let text = api::owned_text(api, (api.result_text)(it, Level::TextLine));
                    let confidence = (api.result_confidence)(it, Level::TextLine) / 100.0;
                    lines.push(TessLine { bbox: b, text: text.trim().to_string(), confidence, words: Vec::new() });
                }
                let text = api::owned_text(api, (api.result_text)(it, Level::Word));
                if let (Some(line), Some(b)) = (lines.last_mut(), bbox(Level::Word))
                    && !text.trim().is_empty()
                {
                    let confidence = (api.result_confidence)(it, Level::Word) / 100.0;
                    line.words.push(TessWord { bbox: b, text: text.trim().to_string(), confidence });
                }
                if (api.result_next)(it, Level::Word) == 0 {
                    break;
                }
            }
            (api.result_delete)(it);
        }
        self.clear();
        lines.retain(|l| !l.text.is_empty() && !l.words.is_empty());
        Ok(lines)
    }

    /// Orientation and script of the image set last (needs the `osd` pack);
    /// `None` when the page has too little text to tell.
    pub fn orientation(&mut self) -> Option<Orientation> {
        let (mut deg, mut conf, mut script, mut script_conf) = (0, 0.0, std::ptr::null(), 0.0);
        // SAFETY: valid handle with an image set, valid out-pointers.
        let ok = unsafe {
            (self.api.detect_orientation_script)(self.handle, &mut deg, &mut conf, &mut script, &mut script_conf)
        } != 0;
        let out = (ok && !script.is_null()).then(|| {
            // SAFETY: non-null; points into Tesseract's static script table (never freed).
            let name = unsafe { CStr::from_ptr(script) }.to_string_lossy().into_owned();
            Orientation {
                degrees: deg.rem_euclid(360) as u16,
                confidence: conf,
                script: name,
                script_confidence: script_conf,
            }
        });
        self.clear();
        out
    }

    fn clear(&mut self) {
        // SAFETY: valid handle; frees the image and results, keeps the packs.
        unsafe { (self.api.clear)(self.handle) };
    }
}

#[allow(unsafe_code)]
impl Drop for TessApi {
    fn drop(&mut self) {
        // SAFETY: created by `create`, deleted once.
        unsafe { (self.api.delete)(self.handle) };
    }
}
