//! Born-digital PDF pages: the text layer, laid out, when it is usable and
//! (for the first pages of a document, or all after a mismatch) reads back
//! with the recogniser.

use std::collections::HashSet;

use tracing::debug;
use web_time::Instant;

use super::{OcrEngine, TextLayerCheck};
use crate::decode::Source;
use crate::document::{Page, PageSource};
use crate::error::Result;
use crate::geometry::Quad;
use crate::layout::{self, LayoutParams};
use crate::pdf_text;
use crate::pixels::PagePixels;
use crate::recognize::RecognizedLine;

/// Text-layer pages of a PDF whose words are read back with the recogniser
/// before the document's text layer is trusted. Each costs a strip render
/// (~20 ms) and a short recognition (~60 ms with the small model on a busy
/// 2-core machine), a third of reading all 14 pages of a paper from their
/// text layer; a wrong encoding belongs to a document's fonts, so it shows
/// on the first page that has words to check. After a mismatch every page
/// is checked.
const CHECKED_TEXT_LAYER_PAGES: usize = 1;
/// A sampled run of text-layer words is believed when the recogniser reads
/// it within this character error rate: an honest layer reads ≤ 0.1, one in
/// a shifted encoding ~0.7.
const MAX_SAMPLE_CER: f32 = 0.4;

/// What the text layer of one PDF page gave.
enum TextLayerPage {
    /// A usable layer, laid out; `read_back` when a sample of it was checked
    /// against the recogniser.
    Page { page: Page, read_back: bool },
    /// No usable layer (missing, or characters without a Unicode mapping).
    Unusable,
    /// Plausible characters that the recogniser reads differently.
    Mismatch,
}

impl OcrEngine {
    /// Page `index` from its text layer when `source` is a PDF with a usable
    /// one and OCR is not forced; `None`: OCR the page. Updates `check`.
    pub(super) fn text_layer_of(
        &self,
        source: &Source<'_>,
        index: usize,
        check: &mut TextLayerCheck,
    ) -> Result<Option<Page>> {
        let Source::Pdf(pdf) = source else { return Ok(None) };
        if self.config.force_ocr {
            return Ok(None);
        }
        let read_back = check.suspect || check.checked < CHECKED_TEXT_LAYER_PAGES;
        match self.text_layer_page(pdf, index, read_back)? {
            TextLayerPage::Page { page, read_back } => {
                check.checked += usize::from(read_back);
                return Ok(Some(page));
            }
            TextLayerPage::Mismatch => check.suspect = true,
            TextLayerPage::Unusable => {}
        }
        Ok(None)
    }

    /// A born-digital PDF page from its text layer, unless the layer is
    /// missing or unusable or (when `check`) its words do not read back.
    fn text_layer_page(&self, pdf: &crate::pdf::PdfSource, index: usize, check: bool) -> Result<TextLayerPage> {
        let layer = pdf.text_layer(index)?;
        let (width, height) = layer.size;
        if !layer.usable {
            debug!(index, "no usable text layer; OCR");
            return Ok(TextLayerPage::Unusable);
        }
        let verdict = if check { self.text_layer_reads_back(pdf, index, &layer.lines, (width, height))? } else { None };
        if verdict == Some(false) {
            debug!(index, "text layer does not match the page's pixels; OCR");
            return Ok(TextLayerPage::Mismatch);
        }
        // The text is exact, so a hyphen at a line end inside a paragraph is
        // typesetting, not content: join the word as pdftotext does.
        let params = LayoutParams { join_hyphens: true, ..self.config.layout };
        let blocks = layout::layout(&layer.lines, &params);
        let mut page =
            Page { index, width, height, rotation: 0, source: PageSource::TextLayer, text: String::new(), blocks };
        page.refresh_text();
        Ok(TextLayerPage::Page { page, read_back: verdict.is_some() })
    }

    /// Whether the recogniser reads a sample of the text layer's words (see
    /// [`pdf_text::sample`]) as the layer spells them. A font whose codes map
    /// to wrong but plausible letters passes every character test; only the
    /// pixels tell. Pages without a sample the recogniser could read (other
    /// scripts, formulas) or whose strip cannot be rendered give `None`:
    /// nothing to check.
    fn text_layer_reads_back(
        &self,
        pdf: &crate::pdf::PdfSource,
        index: usize,
        lines: &[RecognizedLine],
        size: (u32, u32),
    ) -> Result<Option<bool>> {
        let start = Instant::now();
        let alphabet: HashSet<char> = self
            .rec
            .alphabet()
            .iter()
            .filter_map(|s| {
                let mut chars = s.chars();
                chars.next().filter(|_| chars.next().is_none())
            })
            .collect();
        let Some((text, quad)) = pdf_text::sample(lines, &alphabet) else { return Ok(None) };
        let b = quad.bounds();
        let b = [b[0].max(0.0), b[1].max(0.0), b[2].min(size.0 as f32), b[3].min(size.1 as f32)];
        if b[2] - b[0] < 8.0 || b[3] - b[1] < 4.0 {
            return Ok(None);
        }
        let Ok(strip) = pdf.render_region(index, b).map(PagePixels::Rgb) else { return Ok(None) };
        let rendered_ms = start.elapsed().as_millis() as u64;
        let (x0, y0) = (b[0].floor(), b[1].floor());
        let local = Quad::from_rect(b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0);
        let seen = self
            .rec
            .recognize(&strip, &[local], &self.config.rec)?
            .into_iter()
            .flatten()
            .next()
            .map(|l| l.text)
            .unwrap_or_default();
        let cer = pdf_text::partial_cer(&text, &seen);
        debug!(index, cer, layer = %text, seen = %seen, rendered_ms, ms = start.elapsed().as_millis() as u64, "text layer read back");
        Ok(Some(cer <= MAX_SAMPLE_CER))
    }
}
