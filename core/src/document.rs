//! The document model every stage produces and every exporter reads:
//! pages → blocks → lines → words, each with a pixel bbox and a confidence,
//! blocks in reading order. Serialises to the JSON shape of the API.

use serde::{Deserialize, Serialize};

/// `[x0, y0, x1, y1]` in pixels of the page as rendered for OCR, origin top-left.
pub type BBox = [u32; 4];

/// A recognised document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Pages in order.
    pub pages: Vec<Page>,
    /// Mean word confidence over the whole document (0 when nothing was read).
    pub mean_confidence: f32,
}

/// One page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// Zero-based page index.
    pub index: usize,
    /// Width in pixels (after orientation correction).
    pub width: u32,
    /// Height in pixels (after orientation correction).
    pub height: u32,
    /// Clockwise rotation in degrees (0, 90, 180, 270) applied to make the page upright.
    #[serde(default)]
    pub rotation: u16,
    /// Where the text came from.
    #[serde(default)]
    pub source: PageSource,
    /// Plain text of the page in reading order.
    pub text: String,
    /// Blocks in reading order.
    pub blocks: Vec<Block>,
}

/// Where a page's text came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageSource {
    /// Recognised from pixels.
    #[default]
    Ocr,
    /// Read from a born-digital PDF's text layer (exact, confidence 1).
    TextLayer,
    /// Transcribed by a vision-language model (server `vlm` tier): text and
    /// structure without word positions; boxes span the page.
    Vlm,
}

/// What a block is, as far as layout analysis can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// Running text.
    #[default]
    Paragraph,
    /// A title or heading (larger text, few lines).
    Heading,
    /// One item of a bulleted or numbered list.
    ListItem,
    /// A grid of cells aligned in rows and columns.
    Table,
}

/// A paragraph, heading, list item or table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Kind of block.
    pub kind: BlockKind,
    /// Text of the block: lines joined by newlines (table rows: cells joined by tabs).
    pub text: String,
    /// Bounding box of the block.
    pub bbox: BBox,
    /// Mean confidence of the block's lines.
    pub confidence: f32,
    /// Lines in reading order.
    pub lines: Vec<Line>,
    /// Cell texts by row and column, for tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<Vec<Vec<String>>>,
}

/// One line of text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Text of the line.
    pub text: String,
    /// Bounding box.
    pub bbox: BBox,
    /// Mean character confidence.
    pub confidence: f32,
    /// Words left to right.
    pub words: Vec<Word>,
}

/// One word (or, for scripts without spaces, one run of characters).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// Text of the word.
    pub text: String,
    /// Bounding box.
    pub bbox: BBox,
    /// Mean character confidence.
    pub confidence: f32,
}

impl Document {
    /// Builds a document from pages, computing the mean confidence over all words.
    pub fn from_pages(pages: Vec<Page>) -> Self {
        let (sum, n) = pages
            .iter()
            .flat_map(|p| &p.blocks)
            .flat_map(|b| &b.lines)
            .flat_map(|l| &l.words)
            .fold((0.0f64, 0usize), |(s, n), w| (s + f64::from(w.confidence), n + 1));
        let mean_confidence = if n == 0 { 0.0 } else { (sum / n as f64) as f32 };
        Document { pages, mean_confidence }
    }

    /// Page texts joined by a form feed, as the API's `text` field.
    pub fn text(&self) -> String {
        self.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\u{c}")
    }
}

impl Page {
    /// Recomputes `text` from the blocks (blocks separated by a blank line).
    pub fn refresh_text(&mut self) {
        self.text = self.blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n");
    }
}
