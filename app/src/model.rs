//! What the result view shows: files, their pages, the boxes on them. Pages
//! arrive from the worker as the shared document type (`ocrchat-core`).

use js_sys::ArrayBuffer;
use ocrchat_core::{Line, Page};

/// A page ready to draw.
#[derive(Clone)]
pub struct PageView {
    /// Zero-based index.
    pub index: u32,
    /// Page size in pixels (bbox coordinates).
    pub width: u32,
    /// Page height.
    pub height: u32,
    /// RGBA preview pixels (transferred from the worker).
    pub pixels: ArrayBuffer,
    /// Preview size.
    pub preview_width: u32,
    /// Preview height.
    pub preview_height: u32,
    /// Lines in reading order.
    pub lines: Vec<Line>,
}

impl PageView {
    /// Builds the view of a `page` message.
    pub fn new(page: Page, pixels: ArrayBuffer, preview_width: u32, preview_height: u32) -> Self {
        Self {
            index: page.index as u32,
            width: page.width.max(1),
            height: page.height.max(1),
            pixels,
            preview_width,
            preview_height,
            lines: page.blocks.into_iter().flat_map(|b| b.lines).collect(),
        }
    }
}

/// One line of a file's chat transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    /// `you`, `assistant` or `error`.
    pub role: &'static str,
    /// The question, the answer, or why there is none.
    pub text: String,
    /// (1-based page, verbatim snippet) backing an answer.
    pub citations: Vec<(u64, String)>,
}

/// Where a file is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// Waiting for the worker (or the server).
    Queued,
    /// Pages being read.
    Running,
    /// Finished.
    Done,
    /// Failed, with the reason shown to the user.
    Failed(String),
}

/// Which tier read the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// In this browser; the file never leaves it.
    Cpu,
    /// On the server's vision-language model.
    Vlm,
}

/// One dropped file.
#[derive(Clone)]
pub struct FileJob {
    /// Page-chosen id (also the worker's job id).
    pub id: u32,
    /// File name.
    pub name: String,
    /// Tier used.
    pub tier: Tier,
    /// Pages in the file (0 until known).
    pub pages_total: u32,
    /// Pages read so far.
    pub pages_done: u32,
    /// Phase.
    pub phase: Phase,
    /// Pages read, in order.
    pub pages: Vec<PageView>,
    /// Text as recognised (pages separated by form feeds).
    pub text: String,
    /// The user's edit of the text (starts as `text`).
    pub edited: String,
    /// Markdown rendering.
    pub markdown: String,
    /// Mean confidence.
    pub confidence: f32,
    /// OCR wall time in ms.
    pub millis: f64,
    /// Workers that read its pages (more than one: a PDF shared with helpers).
    pub workers: u32,
    /// The server's job uuid (vlm tier): enables chat and server downloads.
    pub server_uuid: Option<String>,
    /// Questions and answers about this file, oldest first.
    pub chat: Vec<ChatLine>,
    /// A question is waiting for its answer.
    pub asking: bool,
    /// The server's conversation id (vlm tier).
    pub conversation: Option<String>,
}

impl FileJob {
    /// A new, queued job.
    pub fn new(id: u32, name: String, tier: Tier) -> Self {
        Self {
            id,
            name,
            tier,
            pages_total: 0,
            pages_done: 0,
            phase: Phase::Queued,
            pages: Vec::new(),
            text: String::new(),
            edited: String::new(),
            markdown: String::new(),
            confidence: 0.0,
            millis: 0.0,
            workers: 1,
            server_uuid: None,
            chat: Vec::new(),
            asking: false,
            conversation: None,
        }
    }

    /// Finished, either way.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed(_))
    }
}
