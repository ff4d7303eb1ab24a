//! The messages between a page (the Leptos app or `widget.js`) and the OCR
//! worker. A message is a plain JS object `{type: "…", …fields}` (serde,
//! internally tagged, snake_case) plus, for file bytes, page pixels and
//! exports, an `ArrayBuffer` under `payload` that is **transferred**, not
//! copied (`postMessage(msg, [msg.payload])`): a 300-dpi page is 35 MB.
//!
//! Flow: the worker first posts `started` (messages sent before it would be
//! lost while its wasm instantiates, so hosts queue them until then); `load`
//! → `ready`; `sniff` (payload: the head of a file) → `sniffed`; `ocr`
//! (payload: the file) → `opened` → one `page` per page (payload: RGBA
//! preview) → `done`; `export` → `exported` (payload: the file); `ask` (a
//! question about a finished job) → `answer`, made by the built-in answerer
//! inside the worker (the question and the document stay in the browser). Any
//! failure answers `error` carrying the job it belongs to. Requests are
//! handled one at a time, in order.
//!
//! A multi-page file may be read by several workers (the app does this on a
//! device with cores to spare, [`crate::split`]): the *lead* gets `ocr` with
//! `role: "lead"` → `opened`, a `page` per text-layer page, `planned` (the
//! pages left to OCR); *helpers* get the file with `role: "help"` (no
//! answer). Every page left is then asked of one worker with `read_page` →
//! `page`; the helpers' pages go to the lead with `add_page`; the lead answers
//! `done` once it has every page and keeps the job for `export` and `ask` as
//! if it had read it alone. A one-page file sent to a lead is read whole.
//!
//! Fields are typed with the shared types of `ocrchat-core`: pages travel
//! as [`Page`] objects (the API's page shape), formats and model sizes as
//! their lower-case names.

pub use ocrchat_answer::Citation;
pub use ocrchat_core::{ExportFormat, InputFormat, ModelSize, Page};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// Property of a message object that holds the transferred bytes.
pub const PAYLOAD: &str = "payload";

/// Page → worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Load a model family (`tiny` or `small`) from `models_url` (a URL
    /// ending in `/` that serves `manifest.json` and the model files). Files
    /// are kept in the Cache API, so later visits download nothing.
    Load {
        /// `tiny` or `small`.
        model: ModelSize,
        /// Base URL of the models, e.g. `https://host/models/`.
        models_url: String,
    },
    /// OCR a file (payload: its bytes). `job` is chosen by the page.
    Ocr {
        /// The page's id for this file.
        job: u32,
        /// File name, used for export file names.
        name: String,
        /// `auto` (the default when absent) or a code from `ready`'s
        /// languages. A Tesseract language's pack is fetched from the
        /// server's models on first use (then from the Cache API).
        #[serde(default = "auto")]
        language: String,
        /// `whole` (the default when absent: every page now), `lead` or
        /// `help` (a file shared between workers, see the module docs).
        #[serde(default)]
        role: Role,
    },
    /// Read page `index` of a file given with `role` `lead` or `help`:
    /// answered with its `page` (or an `error` for the job).
    ReadPage {
        /// The job.
        job: u32,
        /// Zero-based page index.
        index: u32,
    },
    /// A page of a `lead` job that another worker read (the `page` it
    /// posted); the lead answers `done` when this was the last one missing.
    AddPage {
        /// The job.
        job: u32,
        /// The page as the other worker read it.
        page: Page,
    },
    /// Export a finished job in `format` (`txt`, `md`, `json`, `docx`, `csv`, `pdf`).
    Export {
        /// The job to export.
        job: u32,
        /// The format.
        format: ExportFormat,
    },
    /// Which file type is this, and does this worker build read it? (payload:
    /// the file's first KiB, [`ocrchat_core::sniff::SNIFF_BYTES`]). Hosts
    /// without Rust (`widget.js`) ask this to pick the worker build for a
    /// file, so the rule stays in one place.
    Sniff {
        /// The host's id for the file.
        job: u32,
    },
    /// Ask a question about a finished job. The worker keeps the job's
    /// conversation (follow-ups see the earlier questions).
    Ask {
        /// The job asked about.
        job: u32,
        /// The question.
        question: String,
    },
    /// Forget a job (its bytes and document).
    Forget {
        /// The job to drop.
        job: u32,
    },
}

/// Worker → page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// The worker listens: requests may be sent from now on.
    Started,
    /// The model is loaded.
    Ready {
        /// `tiny` or `small`.
        model: ModelSize,
        /// Every model file came from the Cache API (no download).
        cached: bool,
        /// Languages this worker reads now: the model's and those of the
        /// Tesseract packs the server offers, by code.
        languages: Vec<LanguageChoice>,
    },
    /// A file was opened: its page count is known before any page is read.
    Opened {
        /// Job id.
        job: u32,
        /// Number of pages.
        pages: u32,
        /// Sniffed format (`png`, `pdf`, …).
        format: InputFormat,
    },
    /// A `lead` job's pages that need OCR (those read from their text layer
    /// were posted as `page`s already), in page order, for `read_page`.
    Planned {
        /// Job id.
        job: u32,
        /// Zero-based page indices.
        ocr: Vec<u32>,
    },
    /// The answer to `sniff`.
    Sniffed {
        /// The host's id for the file.
        job: u32,
        /// The file type, `None` when it is none we read.
        format: Option<InputFormat>,
        /// Whether this worker build reads it (the first-load build has no
        /// PDF reader: a host then starts the full build).
        readable: bool,
    },
    /// One page is read (payload: RGBA preview pixels, `preview_width` ×
    /// `preview_height`; bboxes in `page` are in page pixels, scale by
    /// `preview_width / page.width`).
    Page {
        /// Job id.
        job: u32,
        /// Zero-based page index.
        index: u32,
        /// Pages in the file.
        pages: u32,
        /// The page, in the API's page shape (blocks → lines → words).
        page: Page,
        /// Preview width in pixels.
        preview_width: u32,
        /// Preview height in pixels.
        preview_height: u32,
    },
    /// Every page of the job is read.
    Done {
        /// Job id.
        job: u32,
        /// Plain text (pages separated by form feeds).
        text: String,
        /// Markdown rendering.
        markdown: String,
        /// Mean word confidence.
        mean_confidence: f32,
        /// Wall time of the OCR in milliseconds.
        millis: f64,
    },
    /// An export is ready (payload: the file's bytes).
    Exported {
        /// Job id.
        job: u32,
        /// The format.
        format: ExportFormat,
        /// Suggested file name (`<stem>.<ext>`).
        filename: String,
        /// MIME type.
        mime: String,
    },
    /// The answer to an `ask`: values and sentences copied from the pages,
    /// each part with its page; "the document does not say" has no citation.
    Answer {
        /// Job id.
        job: u32,
        /// The question, as asked.
        question: String,
        /// The answer text.
        content: String,
        /// Page citations (1-based pages, snippets verbatim from the page text).
        citations: Vec<Citation>,
    },
    /// A request failed. `job` is set when it concerned a job.
    Error {
        /// The job the error belongs to, if any.
        job: Option<u32>,
        /// Human-readable reason.
        message: String,
    },
}

/// What a worker does with the file of an `ocr` request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read every page now: `opened`, `page`…, `done`.
    #[default]
    Whole,
    /// Lead a shared read: `opened`, the text-layer pages, `planned`; the
    /// other pages come with `read_page` and `add_page`, then `done`.
    Lead,
    /// Help a lead: keep the file and read the pages `read_page` asks for,
    /// until `forget`.
    Help,
}

/// A language a worker can read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageChoice {
    /// The code to send in `ocr` (`ru`, `zh-tw`).
    pub code: String,
    /// Its English name.
    pub name: String,
}

fn auto() -> String {
    "auto".into()
}

/// Builds the JS message for `msg`, with `payload` attached when given.
/// Pass the payload in the transfer list when posting it.
pub fn encode<T: Serialize>(msg: &T, payload: Option<&js_sys::ArrayBuffer>) -> Result<JsValue, JsValue> {
    // Maps become plain objects so JS reads `msg.type`, `msg.job`.
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    let value = msg.serialize(&ser).map_err(JsValue::from)?;
    if let Some(buf) = payload {
        js_sys::Reflect::set(&value, &JsValue::from_str(PAYLOAD), buf)?;
    }
    Ok(value)
}

/// Splits a JS message into its typed part and its payload (if any).
pub fn decode<T: for<'de> Deserialize<'de>>(value: JsValue) -> Result<(T, Option<js_sys::ArrayBuffer>), JsValue> {
    let payload = js_sys::Reflect::get(&value, &JsValue::from_str(PAYLOAD))
        .ok()
        .and_then(|p| p.dyn_into::<js_sys::ArrayBuffer>().ok());
    if payload.is_some() {
        // The typed part must not see the bytes (serde would walk them).
        let obj: &js_sys::Object = value.unchecked_ref();
        js_sys::Reflect::delete_property(obj, &JsValue::from_str(PAYLOAD))?;
    }
    let msg = serde_wasm_bindgen::from_value(value).map_err(JsValue::from)?;
    Ok((msg, payload))
}

/// The transfer list for a message: its payload, if any.
pub fn transfer_list(payload: Option<&js_sys::ArrayBuffer>) -> js_sys::Array {
    let list = js_sys::Array::new();
    if let Some(p) = payload {
        list.push(p);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: serde_json::Value) -> Result<Request, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn an_ocr_without_a_role_reads_whole_as_before() {
        let old = request(json!({"type": "ocr", "job": 1, "name": "a.pdf"})).unwrap();
        assert_eq!(old, Request::Ocr { job: 1, name: "a.pdf".into(), language: "auto".into(), role: Role::Whole });
        for (name, role) in [("whole", Role::Whole), ("lead", Role::Lead), ("help", Role::Help)] {
            let req = request(json!({"type": "ocr", "job": 1, "name": "a.pdf", "role": name})).unwrap();
            assert!(matches!(req, Request::Ocr { role: r, .. } if r == role), "{name}");
            assert_eq!(serde_json::to_value(role).unwrap(), json!(name));
        }
        assert!(request(json!({"type": "ocr", "job": 1, "name": "a.pdf", "role": "boss"})).is_err());
    }

    #[test]
    fn the_messages_of_a_shared_read_have_their_js_shape() {
        let read = Request::ReadPage { job: 3, index: 2 };
        assert_eq!(serde_json::to_value(&read).unwrap(), json!({"type": "read_page", "job": 3, "index": 2}));
        let page = Page { index: 2, width: 10, height: 20, ..Page::default() };
        let add = Request::AddPage { job: 3, page: page.clone() };
        let value = serde_json::to_value(&add).unwrap();
        assert_eq!(value["type"], "add_page");
        assert_eq!(value["page"]["index"], 2);
        assert_eq!(request(value).unwrap(), add);
        let planned = Response::Planned { job: 3, ocr: vec![1, 2] };
        let value = serde_json::to_value(&planned).unwrap();
        assert_eq!(value, json!({"type": "planned", "job": 3, "ocr": [1, 2]}));
        assert_eq!(serde_json::from_value::<Response>(value).unwrap(), planned);
        assert!(request(json!({"type": "read_page", "job": 3})).is_err(), "a page index is required");
        assert!(request(json!({"type": "read_page", "job": 3, "index": -1})).is_err());
    }
}
