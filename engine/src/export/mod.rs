//! Output formats rendered from the [`Document`] model, one module per format.

use crate::document::{Block, BlockKind, Document, Page};
use crate::error::{EngineError, Result};

pub mod csv;
#[cfg(feature = "docx")]
pub mod docx;
pub mod markdown;
pub mod pdf;
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
    /// Word document: styled headings, bulleted lists, tables, page breaks.
    Docx,
    /// The tables as CSV (or one row per text line when there is none).
    Csv,
    /// Searchable PDF: page images with an invisible text layer. Needs the
    /// page images: render it with [`pdf::render`].
    Pdf,
}

impl ExportFormat {
    /// Parses a format name (`txt`, `md`, `json`, `docx`, `csv`, `pdf`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "txt" | "text" => Some(Self::Txt),
            "md" | "markdown" => Some(Self::Md),
            "json" => Some(Self::Json),
            "docx" | "word" => Some(Self::Docx),
            "csv" => Some(Self::Csv),
            "pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Txt => "txt",
            Self::Md => "md",
            Self::Json => "json",
            Self::Docx => "docx",
            Self::Csv => "csv",
            Self::Pdf => "pdf",
        }
    }

    /// MIME type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Txt => "text/plain; charset=utf-8",
            Self::Md => "text/markdown; charset=utf-8",
            Self::Json => "application/json",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Pdf => "application/pdf",
        }
    }
}

/// Renders `doc` in `format`. [`ExportFormat::Pdf`] needs the page images
/// and is an error here: use [`pdf::render`].
pub fn export(doc: &Document, format: ExportFormat) -> Result<Vec<u8>> {
    Ok(match format {
        ExportFormat::Txt => txt::render(doc).into_bytes(),
        ExportFormat::Md => markdown::render(doc).into_bytes(),
        ExportFormat::Json => {
            serde_json::to_vec_pretty(doc).map_err(|e| EngineError::Export { format: "json", reason: e.to_string() })?
        }
        #[cfg(feature = "docx")]
        ExportFormat::Docx => docx::render(doc)?,
        #[cfg(not(feature = "docx"))]
        ExportFormat::Docx => return Err(EngineError::NotBuiltIn { what: "DOCX export", feature: "docx" }),
        ExportFormat::Csv => csv::render(doc)?,
        ExportFormat::Pdf => {
            return Err(EngineError::Export {
                format: "pdf",
                reason: "a searchable PDF needs the page images: use export::pdf::render".into(),
            });
        }
    })
}

/// Which headings of `page` are its title: those whose line height equals
/// the tallest heading's (level 1 in Markdown and Word); the others are
/// section headings (level 2). One rule for every structured format.
pub(crate) fn title_headings(page: &Page) -> impl Fn(&Block) -> bool {
    let line_height = |b: &Block| b.bbox[3].saturating_sub(b.bbox[1]) / b.lines.len().max(1) as u32;
    let tallest = page.blocks.iter().filter(|b| b.kind == BlockKind::Heading).map(line_height).max();
    move |b: &Block| b.kind == BlockKind::Heading && Some(line_height(b)) == tallest
}
