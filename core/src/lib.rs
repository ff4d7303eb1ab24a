//! What every ocrchat host shares — the engine, the server, the browser
//! worker and the app — kept free of the engine's weight (serde only), so
//! the app's wasm can use it without carrying any OCR code:
//!
//! - [`document`]: the document model (pages → blocks → lines → words) in
//!   the API's JSON shape;
//! - [`sniff`]: which file type some bytes are (the one rule for it);
//! - [`format`]: the export formats with their names, extensions and MIME types;
//! - [`ModelSize`]: the model size classes.

pub mod document;
pub mod format;
pub mod sniff;

pub use document::{BBox, Block, BlockKind, Document, Line, Page, PageSource, Word};
pub use format::ExportFormat;
pub use sniff::{InputFormat, SniffError, sniff};

use serde::{Deserialize, Serialize};

/// Size class of a model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSize {
    /// Small download, fast; the browser default.
    Tiny,
    /// More accurate; the server default.
    Small,
}

impl ModelSize {
    /// Parses `tiny` or `small` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tiny" => Some(Self::Tiny),
            "small" => Some(Self::Small),
            _ => None,
        }
    }

    /// `tiny` or `small`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tiny => "tiny",
            Self::Small => "small",
        }
    }
}

impl std::fmt::Display for ModelSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
