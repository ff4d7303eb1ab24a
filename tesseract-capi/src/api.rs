//! The raw part of Tesseract's C API (`tesseract/capi.h`, stable since 4.0) the
//! engine uses, loaded at run time from `libtesseract.so.5`.
//!
//! Why dlopen rather than link: the engine then builds on any machine (no
//! `libtesseract-dev`, no bindgen/libclang), and a machine without the
//! library still serves every PP-OCR language — asking for a Tesseract one
//! is a clear error instead of a binary that will not start. The library
//! comes from Debian's `libtesseract5` (scripts/fetch-tessdata.sh).

// Every item here is FFI; each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_float, c_int, c_uchar, c_void};

use std::sync::OnceLock;

use libloading::Library;

/// Opaque `TessBaseAPI*` / `TessResultIterator*` / `TessPageIterator*`.
pub(crate) type Handle = *mut c_void;

/// `TessPageIteratorLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
#[allow(dead_code)] // the C enum's other members exist; we iterate lines and words
pub(crate) enum Level {
    Block = 0,
    Para = 1,
    TextLine = 2,
    Word = 3,
    Symbol = 4,
}

/// Function pointers resolved once; the `Library` is kept alive beside them.
pub(crate) struct Api {
    _lib: Library,
    pub version: unsafe extern "C" fn() -> *const c_char,
    pub create: unsafe extern "C" fn() -> Handle,
    pub delete: unsafe extern "C" fn(Handle),
    pub init2: unsafe extern "C" fn(Handle, *const c_char, *const c_char, c_int) -> c_int,
    pub set_variable: unsafe extern "C" fn(Handle, *const c_char, *const c_char) -> c_int,
    pub set_page_seg_mode: unsafe extern "C" fn(Handle, c_int),
    pub set_image: unsafe extern "C" fn(Handle, *const c_uchar, c_int, c_int, c_int, c_int),
    pub recognize: unsafe extern "C" fn(Handle, *mut c_void) -> c_int,
    pub clear: unsafe extern "C" fn(Handle),
    pub detect_orientation_script:
        unsafe extern "C" fn(Handle, *mut c_int, *mut c_float, *mut *const c_char, *mut c_float) -> c_int,
    pub get_iterator: unsafe extern "C" fn(Handle) -> Handle,
    pub result_delete: unsafe extern "C" fn(Handle),
    pub result_next: unsafe extern "C" fn(Handle, Level) -> c_int,
    pub result_text: unsafe extern "C" fn(Handle, Level) -> *mut c_char,
    pub result_confidence: unsafe extern "C" fn(Handle, Level) -> c_float,
    pub result_page_iterator: unsafe extern "C" fn(Handle) -> Handle,
    pub page_bounding_box: unsafe extern "C" fn(Handle, Level, *mut c_int, *mut c_int, *mut c_int, *mut c_int) -> c_int,
    pub page_is_at_beginning_of: unsafe extern "C" fn(Handle, Level) -> c_int,
    pub delete_text: unsafe extern "C" fn(*mut c_char),
}

/// Library names tried in order (Debian's soname first).
const LIBRARY_NAMES: &[&str] = &["libtesseract.so.5", "libtesseract.so", "libtesseract.5.dylib"];

impl Api {
    fn load() -> Result<Self, String> {
        let mut errors = Vec::new();
        for name in LIBRARY_NAMES {
            // SAFETY: loading Tesseract runs its (and leptonica's) static
            // initialisers only; nothing else is executed.
            match unsafe { Library::new(*name) } {
                Ok(lib) => return Self::resolve(lib).map_err(|e| format!("{name}: {e}")),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        Err(errors.join("; "))
    }

    fn resolve(lib: Library) -> Result<Self, libloading::Error> {
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the signatures above are capi.h's for Tesseract 4 and 5.
                *unsafe { lib.get(concat!($name, "\0").as_bytes())? }
            };
        }
        Ok(Self {
            version: sym!("TessVersion"),
            create: sym!("TessBaseAPICreate"),
            delete: sym!("TessBaseAPIDelete"),
            init2: sym!("TessBaseAPIInit2"),
            set_variable: sym!("TessBaseAPISetVariable"),
            set_page_seg_mode: sym!("TessBaseAPISetPageSegMode"),
            set_image: sym!("TessBaseAPISetImage"),
            recognize: sym!("TessBaseAPIRecognize"),
            clear: sym!("TessBaseAPIClear"),
            detect_orientation_script: sym!("TessBaseAPIDetectOrientationScript"),
            get_iterator: sym!("TessBaseAPIGetIterator"),
            result_delete: sym!("TessResultIteratorDelete"),
            result_next: sym!("TessResultIteratorNext"),
            result_text: sym!("TessResultIteratorGetUTF8Text"),
            result_confidence: sym!("TessResultIteratorConfidence"),
            result_page_iterator: sym!("TessResultIteratorGetPageIterator"),
            page_bounding_box: sym!("TessPageIteratorBoundingBox"),
            page_is_at_beginning_of: sym!("TessPageIteratorIsAtBeginningOf"),
            delete_text: sym!("TessDeleteText"),
            _lib: lib,
        })
    }

    /// The process-wide library, loaded on first use.
    pub(crate) fn get() -> Result<&'static Api, &'static str> {
        static API: OnceLock<Result<Api, String>> = OnceLock::new();
        API.get_or_init(Api::load).as_ref().map_err(String::as_str)
    }

    /// The library's version string, e.g. "5.3.0".
    pub(crate) fn version_string(&self) -> String {
        // SAFETY: TessVersion returns a static NUL-terminated string.
        unsafe { CStr::from_ptr((self.version)()) }.to_string_lossy().into_owned()
    }
}

/// Takes ownership of a string Tesseract allocated.
///
/// # Safety
/// `ptr` is null or a string returned by Tesseract and not yet freed.
pub(crate) unsafe fn owned_text(api: &Api, ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated, allocated by Tesseract; freed once here.
    unsafe {
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        (api.delete_text)(ptr);
        text
    }
}

/// A C string for paths and codes (never contains NUL: callers pass validated names).
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).expect("NUL removed")
}
