//! What the result view shows: files, their pages, the boxes on them. Page
//! JSON is the engine's (the API's) page shape; only the fields drawn are read.

use js_sys::ArrayBuffer;
use serde::Deserialize;

/// A box in page pixels `[x0, y0, x1, y1]`.
pub type BBox = [u32; 4];

/// One word (or line) drawn over the page.
#[derive(Clone, Debug, Deserialize)]
pub struct Word {
    /// Recognised text.
    pub text: String,
    /// Where it is.
    pub bbox: BBox,
    /// 0..1.
    pub confidence: f32,
}

/// A line of text with its words.
#[derive(Clone, Debug, Deserialize)]
pub struct Line {
    /// Text of the line.
    pub text: String,
    /// Where it is.
    pub bbox: BBox,
    /// Mean confidence.
    pub confidence: f32,
    /// Words left to right.
    #[serde(default)]
    pub words: Vec<Word>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(default)]
    lines: Vec<Line>,
}

#[derive(Deserialize)]
struct PageJson {
    width: u32,
    height: u32,
    #[serde(default)]
    blocks: Vec<Block>,
}

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
    pub fn parse(
        index: u32,
        page_json: &str,
        pixels: ArrayBuffer,
        preview_width: u32,
        preview_height: u32,
    ) -> Result<Self, String> {
        let page: PageJson = serde_json::from_str(page_json).map_err(|e| e.to_string())?;
        Ok(Self {
            index,
            width: page.width.max(1),
            height: page.height.max(1),
            pixels,
            preview_width,
            preview_height,
            lines: page.blocks.into_iter().flat_map(|b| b.lines).collect(),
        })
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
