//! Output formats rendered from the [`Document`] model, one module per format.

use crate::document::Document;
use crate::error::{EngineError, Result};

pub mod markdown;
pub mod txt;

/// A format a document can be exported to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Plain UTF-8 text, pages separated by form feeds.
    Txt,
    /// Markdown with headings, lists and pipe tables.
    Md,
    /// The document model as JSON.
    Json,
}

impl ExportFormat {
    /// Parses a format name (`txt`, `md`, `json`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "txt" | "text" => Some(Self::Txt),
            "md" | "markdown" => Some(Self::Md),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Txt => "txt",
            Self::Md => "md",
            Self::Json => "json",
        }
    }

    /// MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Txt => "text/plain; charset=utf-8",
            Self::Md => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// Renders `doc` in `format`.
pub fn export(doc: &Document, format: ExportFormat) -> Result<Vec<u8>> {
    Ok(match format {
        ExportFormat::Txt => txt::render(doc).into_bytes(),
        ExportFormat::Md => markdown::render(doc).into_bytes(),
        ExportFormat::Json => serde_json::to_vec_pretty(doc)
            .map_err(|e| EngineError::Export { format: "json", reason: e.to_string() })?,
    })
}
