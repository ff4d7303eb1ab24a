//! A confidence-gated cascade of two line recognisers: the fast one (tiny)
//! reads every line, the accurate one (small) reads again only the lines the
//! fast one is unsure of. Recognition is most of a page's time and small's
//! recogniser costs ~6x tiny's, so when few lines fall below the gate the
//! page costs little more than tiny while the hard lines get small's reading.
//! Measured against both models in `bench/levers.py` (the `cascade-*` variants).

use tracing::debug;

use crate::error::Result;
use crate::geometry::Quad;
use crate::model::TextRecognizer;
use crate::pixels::PagePixels;
use crate::recognize::{RecParams, RecognizedLine};

/// Two recognisers and the confidence below which the second one decides.
pub struct CascadeRecognizer {
    fast: Box<dyn TextRecognizer>,
    accurate: Box<dyn TextRecognizer>,
    gate: f32,
}

impl CascadeRecognizer {
    /// `fast` reads every line; a line it reads with a mean character
    /// probability below `gate` (or not at all) is read by `accurate`, whose
    /// reading then stands.
    pub fn new(fast: Box<dyn TextRecognizer>, accurate: Box<dyn TextRecognizer>, gate: f32) -> Self {
        Self { fast, accurate, gate }
    }
}

impl TextRecognizer for CascadeRecognizer {
    /// The accurate model's: the text-layer check asks what a reading could
    /// contain, and the final reading of an unsure line is the accurate one's.
    fn alphabet(&self) -> &[String] {
        self.accurate.alphabet()
    }

    fn recognize(&self, page: &PagePixels, lines: &[Quad], params: &RecParams) -> Result<Vec<Option<RecognizedLine>>> {
        let mut read = self.fast.recognize(page, lines, params)?;
        let unsure: Vec<usize> =
            (0..lines.len()).filter(|&i| read[i].as_ref().is_none_or(|l| l.confidence < self.gate)).collect();
        debug!(lines = lines.len(), reread = unsure.len(), "stage: cascade");
        if unsure.is_empty() {
            return Ok(read);
        }
        let quads: Vec<Quad> = unsure.iter().map(|&i| lines[i]).collect();
        let again = self.accurate.recognize(page, &quads, params)?;
        for (i, line) in unsure.iter().zip(again) {
            read[*i] = line;
        }
        Ok(read)
    }
}
