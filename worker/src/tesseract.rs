//! Tesseract in the worker: tesseract-wasm (npm, Tesseract 5.3.0 compiled to
//! wasm) behind the engine's [`TessBackend`], so the engine's Tesseract
//! reader, tidying and script trial run here exactly as natively.
//!
//! tesseract-wasm's JS is an ES module; the worker's loader defines
//! `ocrchatImport(url)` (dynamic `import()`, which a classic worker script
//! may call) and the module is imported from a blob of its verified bytes,
//! so it works offline from the Cache API like every model file. A blob has
//! no base for `new URL(…, import.meta.url)`, so that expression gets the
//! file's real URL first, as a bundler would substitute it.
//!
//! Each pack gets its own wasm instance: tesseract-wasm loads every model
//! under the name "eng", and Tesseract caches dictionaries process-wide by
//! that name, so a second pack in one instance would read with the first
//! one's dictionaries. Instances are created asynchronously (fetch, compile)
//! before a page needs them; [`JsBackend::open`] only hands them out, and
//! asks for a pack it does not have with [`EngineError::PackNotLoaded`].

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use image::RgbImage;
use js_sys::{Promise, Uint8Array};
use ocrchat_engine::EngineError;
use ocrchat_engine::tesseract::{TessBackend, TessError, TessInstance, TessLine, TessWord};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::runtime::js_text;

#[wasm_bindgen]
extern "C" {
    /// `import(url)`, defined by the worker's loader script.
    #[wasm_bindgen(js_name = ocrchatImport, catch)]
    fn import_module(url: &str) -> Result<Promise, JsValue>;

    /// tesseract-wasm's module namespace.
    pub type TessLib;
    #[wasm_bindgen(method, js_name = createOCREngine)]
    fn create_ocr_engine(this: &TessLib, options: &JsValue) -> Promise;
    #[wasm_bindgen(method, js_name = supportsFastBuild)]
    fn supports_fast_build(this: &TessLib) -> bool;

    /// One tesseract-wasm instance (its own wasm memory).
    type OcrEngine;
    #[wasm_bindgen(method, catch, js_name = loadModel)]
    fn load_model(this: &OcrEngine, model: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = loadImage)]
    fn load_image(this: &OcrEngine, image: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = setVariable)]
    fn set_variable(this: &OcrEngine, name: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = getTextBoxes)]
    fn get_text_boxes(this: &OcrEngine, unit: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, js_name = clearImage)]
    fn clear_image(this: &OcrEngine);
}

/// `layoutFlags.StartOfLine` of tesseract-wasm's `TextItem`.
const START_OF_LINE: u32 = 1;
/// `PSM_SINGLE_LINE`, as the native reader's `read_line` sets it.
const PSM_SINGLE_LINE: &str = "7";

thread_local! {
    /// Loaded instances by pack (the worker is one thread).
    static ENGINES: RefCell<HashMap<String, OcrEngine>> = RefCell::new(HashMap::new());
    /// Packs the server offers (its `tessdata/manifest.json`).
    static OFFERED: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// Records the packs the server offers (`has_pack` answers from these).
pub fn set_offered(packs: impl IntoIterator<Item = String>) {
    OFFERED.with(|o| *o.borrow_mut() = packs.into_iter().collect());
}

/// Whether `pack` has an instance already.
pub fn is_loaded(pack: &str) -> bool {
    ENGINES.with(|e| e.borrow().contains_key(pack))
}

/// tesseract-wasm's module from its verified source text, fetched from `url`.
pub async fn import_lib(source: &[u8], url: &str) -> Result<TessLib, String> {
    let source = String::from_utf8_lossy(source);
    let located = source.replace("import.meta.url", &serde_json::Value::from(url).to_string());
    let parts = js_sys::Array::of1(&Uint8Array::from(located.as_bytes()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| js_text(&e))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| js_text(&e))?;
    let imported = match import_module(&url) {
        Ok(promise) => JsFuture::from(promise).await,
        Err(e) => Err(e),
    };
    let _ = web_sys::Url::revoke_object_url(&url);
    imported.map(JsCast::unchecked_into).map_err(|e| format!("cannot import tesseract-wasm: {}", js_text(&e)))
}

/// Whether this browser runs tesseract-wasm's SIMD build.
pub fn simd(lib: &TessLib) -> bool {
    lib.supports_fast_build()
}

/// Creates an instance from `wasm` and loads `pack` (`model`: its verified
/// traineddata) into it.
pub async fn load_pack(lib: &TessLib, wasm: &[u8], pack: &str, model: &[u8]) -> Result<(), String> {
    ocrchat_engine::tesseract::check_traineddata(pack, model, true).map_err(|e| e.detail())?;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"wasmBinary".into(), &Uint8Array::from(wasm)).map_err(|e| js_text(&e))?;
    let engine: OcrEngine = JsFuture::from(lib.create_ocr_engine(&options))
        .await
        .map_err(|e| format!("cannot start tesseract-wasm: {}", js_text(&e)))?
        .unchecked_into();
    engine.load_model(&Uint8Array::from(model)).map_err(|e| format!("{pack}: {}", js_text(&e)))?;
    ENGINES.with(|e| e.borrow_mut().insert(pack.to_string(), engine));
    Ok(())
}

/// The engine's view of the instances.
pub struct JsBackend;

impl TessBackend for JsBackend {
    fn has_pack(&self, pack: &str) -> bool {
        // osd is the legacy engine, which tesseract-wasm leaves out.
        pack != "osd" && OFFERED.with(|o| o.borrow().contains(pack))
    }

    fn open(&self, packs: &str) -> Result<Box<dyn TessInstance>, EngineError> {
        if packs.contains('+') {
            return Err(EngineError::InvalidModel {
                name: format!("tesseract/{packs}"),
                source: "tesseract-wasm loads one pack per instance: combined codes are read on the server".into(),
            });
        }
        if !is_loaded(packs) {
            return Err(EngineError::PackNotLoaded { pack: packs.to_string() });
        }
        Ok(Box::new(JsTess { pack: packs.to_string() }))
    }
}

/// A handle on the instance of one pack.
struct JsTess {
    pack: String,
}

/// tesseract-wasm's `TextItem`.
#[derive(Deserialize)]
struct Item {
    rect: Rect,
    flags: u32,
    confidence: f32,
    text: String,
}

#[derive(Deserialize)]
struct Rect {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl Rect {
    fn bbox(&self) -> [i32; 4] {
        [self.left, self.top, self.right, self.bottom]
    }
}

/// `image` as tesseract-wasm's `loadImage` copies it: its bytes become
/// Leptonica's 32-bit pixels as little-endian words, whose top byte is red.
/// So each pixel is written `[0, B, G, R]` — the very pixels the native
/// library builds from RGB (`composeRGBPixel`), where an RGBA `ImageData`
/// would reach Tesseract with its channels swapped.
fn leptonica_pixels(image: &RgbImage) -> Uint8Array {
    let mut out = vec![0u8; image.as_raw().len() / 3 * 4];
    for (px, rgb) in out.chunks_exact_mut(4).zip(image.as_raw().chunks_exact(3)) {
        px[1] = rgb[2];
        px[2] = rgb[1];
        px[3] = rgb[0];
    }
    Uint8Array::from(&out[..])
}

/// Lines with their words from tesseract-wasm's line and word lists, as
/// the native reader collects them from one iterator: a word flagged as a
/// line's start opens the next line; empty words and lines are dropped.
fn lines_of(lines: Vec<Item>, words: Vec<Item>) -> Vec<TessLine> {
    let mut out: Vec<TessLine> = Vec::new();
    let mut line_items = lines.into_iter();
    for word in words {
        if word.flags & START_OF_LINE != 0
            && let Some(line) = line_items.next()
        {
            out.push(TessLine {
                bbox: line.rect.bbox(),
                text: line.text.trim().to_string(),
                confidence: line.confidence,
                words: Vec::new(),
            });
        }
        let text = word.text.trim();
        if let Some(line) = out.last_mut()
            && !text.is_empty()
        {
            line.words.push(TessWord { bbox: word.rect.bbox(), text: text.to_string(), confidence: word.confidence });
        }
    }
    out.retain(|l| !l.text.is_empty() && !l.words.is_empty());
    out
}

impl JsTess {
    fn recognize(&self, image: &RgbImage, single_line: bool) -> Result<Vec<TessLine>, TessError> {
        let fail = |e: JsValue| TessError::Wasm(js_text(&e));
        let data = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&data, &k.into(), v).map(|_| ());
        set("data", &leptonica_pixels(image)).map_err(fail)?;
        set("width", &image.width().into()).map_err(fail)?;
        set("height", &image.height().into()).map_err(fail)?;
        ENGINES.with(|engines| {
            let engines = engines.borrow();
            let engine = engines.get(&self.pack).ok_or_else(|| TessError::Wasm(format!("{} unloaded", self.pack)))?;
            engine.load_image(&data).map_err(fail)?;
            if single_line {
                engine.set_variable("tessedit_pageseg_mode", PSM_SINGLE_LINE).map_err(fail)?;
            }
            let items = |unit: &str| -> Result<Vec<Item>, TessError> {
                let v = engine.get_text_boxes(unit).map_err(fail)?;
                serde_wasm_bindgen::from_value(v).map_err(|e| TessError::Wasm(e.to_string()))
            };
            let read = items("line").and_then(|lines| Ok((lines, items("word")?)));
            // The next loadImage sets page segmentation again (PSM_AUTO).
            engine.clear_image();
            let (lines, words) = read?;
            Ok(lines_of(lines, words))
        })
    }
}

impl TessInstance for JsTess {
    fn read(&mut self, image: &RgbImage) -> Result<Vec<TessLine>, TessError> {
        self.recognize(image, false)
    }

    fn read_line(&mut self, image: &RgbImage) -> Result<Option<TessLine>, TessError> {
        Ok(self.recognize(image, true)?.into_iter().next())
    }
}
