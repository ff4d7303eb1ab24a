//! The page driver: every page of a source read in order, one page's pixels
//! in memory at a time, with the document's text-layer check threaded
//! through (how many born-digital pages were read back against the
//! recogniser, and whether one did not match) so callers never see it.
//!
//! A caller that reads several pages at once (the server's inference pool)
//! uses [`PageReader::plan`] instead of iterating: the text-layer decisions
//! stay in page order on the reader, and only the pages that need OCR are
//! handed out, to be read by [`OcrEngine::ocr_page`] on any thread.

use super::{OcrEngine, TextLayerCheck};
use crate::decode::Source;
use crate::document::Page;
use crate::error::EngineError;
use crate::pixels::PagePixels;

/// Reads the pages of one [`Source`] in order; an [`Iterator`] of
/// [`ReadPage`]s. Made by [`OcrEngine::pages`].
///
/// A page that fails is reported as a [`PageError`] and the next call goes
/// on with the next page (the server fails that page, the CLI the file).
/// The page index advances before a page is read, so a caller that catches
/// a panic in [`Iterator::next`] also goes on with the next page.
pub struct PageReader<'r, 'a> {
    engine: &'r OcrEngine,
    source: &'r Source<'a>,
    check: TextLayerCheck,
    next: usize,
    images: bool,
    skip: Option<Box<dyn Fn(usize) -> bool + 'r>>,
}

/// One page as the driver yields it.
pub struct ReadPage {
    /// The page.
    pub page: Page,
    /// The upright page image (its pixels are the page's bbox coordinates),
    /// rendered for text-layer pages too; only with [`PageReader::with_images`].
    pub image: Option<PagePixels>,
    /// Pages in the source (the page is `page.index + 1` of them).
    pub total: usize,
}

/// The next step of a document, from [`PageReader::plan`].
pub enum Planned {
    /// The page is read already (from its text layer), or failed.
    Read(Result<ReadPage, PageError>),
    /// Page `index` needs OCR: [`OcrEngine::ocr_page`], on any thread and in
    /// any order relative to the other pages (the check of later pages does
    /// not depend on OCR results).
    Ocr(usize),
}

/// A page that could not be read.
#[derive(Debug)]
pub struct PageError {
    /// Zero-based index of the page.
    pub index: usize,
    /// Why.
    pub error: EngineError,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page {}: {}", self.index + 1, self.error)
    }
}

impl std::error::Error for PageError {
    /// The engine error's own source: its message is already in ours.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl<'r, 'a> PageReader<'r, 'a> {
    pub(super) fn new(engine: &'r OcrEngine, source: &'r Source<'a>) -> Self {
        Self { engine, source, check: TextLayerCheck::default(), next: 0, images: false, skip: None }
    }

    /// Also yield every page's upright image (the browser worker shows it).
    pub fn with_images(mut self) -> Self {
        self.images = true;
        self
    }

    /// Leave out the pages `done(index)` says are already read (a job
    /// resumed after a crash); they do not count for the text-layer check.
    pub fn skipping(mut self, done: impl Fn(usize) -> bool + 'r) -> Self {
        self.skip = Some(Box::new(done));
        self
    }

    /// Index of the page the next call starts from: after a panic inside
    /// [`Iterator::next`], `position() - 1` is the page that panicked.
    pub fn position(&self) -> usize {
        self.next
    }

    /// Pages in the source.
    pub fn total(&self) -> usize {
        self.source.page_count()
    }

    /// The next page not skipped, decided in page order: read from its text
    /// layer (the document's check advances), or handed out for OCR. `None`
    /// after the last page. The index advances before the page is looked at,
    /// so after a panic in here `position() - 1` is the page that panicked.
    pub fn plan(&mut self) -> Option<Planned> {
        let total = self.total();
        while self.next < total && self.skip.as_ref().is_some_and(|done| done(self.next)) {
            self.next += 1;
        }
        if self.next >= total {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let failed = |error| PageError { index, error };
        Some(match self.engine.text_layer_or_none(self.source, index, &mut self.check) {
            Ok(Some(page)) => Planned::Read(self.text_layer_page(page).map_err(failed)),
            Ok(None) => Planned::Ocr(index),
            Err(error) => Planned::Read(Err(failed(error))),
        })
    }

    /// A page read from its text layer, with its rendered image when asked
    /// for (text-layer pages are not rasterised for OCR; the view needs one).
    fn text_layer_page(&self, page: Page) -> Result<ReadPage, EngineError> {
        let image = if self.images { Some(self.source.pixels(page.index)?) } else { None };
        Ok(ReadPage { page, image, total: self.total() })
    }

    /// Page `index` recognised here, on the caller's thread.
    fn ocr(&self, index: usize) -> Result<ReadPage, PageError> {
        let (page, upright) = self.engine.ocr_page(self.source, index).map_err(|error| PageError { index, error })?;
        Ok(ReadPage { page, image: self.images.then_some(upright), total: self.total() })
    }
}

impl Iterator for PageReader<'_, '_> {
    type Item = Result<ReadPage, PageError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.plan()? {
            Planned::Read(read) => read,
            Planned::Ocr(index) => self.ocr(index),
        })
    }
}
