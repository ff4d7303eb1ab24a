//! The formats a document is exported to.

use serde::{Deserialize, Serialize};

/// A format a document can be exported to. Serialises as its lower-case name
/// (`txt`, `md`, `json`, `docx`, `csv`, `pdf`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// Searchable PDF: page images with an invisible text layer, drawn from
    /// the file the document was read from.
    Pdf,
}

impl ExportFormat {
    /// Every format, in the order the API lists them.
    pub const ALL: [Self; 6] = [Self::Txt, Self::Md, Self::Json, Self::Docx, Self::Csv, Self::Pdf];

    /// Parses a format name (`txt`, `md`, `json`, `docx`, `csv`, `pdf`; also
    /// `text`, `markdown`, `word`), any case.
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

    /// File extension (also the format's canonical name).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_serialise_and_round_trip() {
        for f in ExportFormat::ALL {
            assert_eq!(ExportFormat::parse(f.extension()), Some(f));
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{}\"", f.extension()));
        }
        assert_eq!(ExportFormat::parse("Markdown"), Some(ExportFormat::Md));
        assert_eq!(ExportFormat::parse("rtf"), None);
    }
}
