//! Output formats rendered from the [`Document`] model, one module per
//! format, behind one call: [`export`].

use crate::ExportFormat;
use crate::decode::DecodeLimits;
use crate::document::{Block, BlockKind, Document, Page};
use crate::error::{EngineError, Result};

mod csv;
#[cfg(feature = "docx")]
mod docx;
mod markdown;
mod pdf;
mod txt;

/// The file a document was read from: what a searchable PDF is drawn from
/// (its pages re-decoded one at a time; a born-digital PDF read entirely
/// from its text layer is returned as it is).
#[derive(Clone, Copy, Debug)]
pub struct Original<'a> {
    /// The file's bytes.
    pub bytes: &'a [u8],
    /// The bounds it was read with.
    pub limits: DecodeLimits,
}

impl<'a> Original<'a> {
    /// The file `bytes`, read with `limits`.
    pub fn new(bytes: &'a [u8], limits: DecodeLimits) -> Self {
        Self { bytes, limits }
    }
}

/// Renders `doc` in `format`: the one export call of the CLI, the server,
/// the browser worker and Node. [`ExportFormat::Pdf`] needs `original` (the
/// page images exist only there): without it the answer is
/// [`EngineError::NoOriginal`]; every other format ignores it.
pub fn export(doc: &Document, format: ExportFormat, original: Option<Original<'_>>) -> Result<Vec<u8>> {
    Ok(match format {
        ExportFormat::Txt => txt::render(doc).into_bytes(),
        ExportFormat::Md => markdown::render(doc).into_bytes(),
        ExportFormat::Json => serde_json::to_vec_pretty(doc).map_err(|e| EngineError::export(format, e))?,
        #[cfg(feature = "docx")]
        ExportFormat::Docx => docx::render(doc)?,
        #[cfg(not(feature = "docx"))]
        ExportFormat::Docx => return Err(EngineError::NotBuiltIn { what: "DOCX export", feature: "docx" }),
        ExportFormat::Csv => csv::render(doc)?,
        ExportFormat::Pdf => {
            let original = original.ok_or(EngineError::NoOriginal)?;
            pdf::from_original(doc, original.bytes, original.limits)?
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
