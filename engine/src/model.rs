//! The two networks the pipeline runs, behind traits so that other model
//! families (ocrs, PP-OCR script models) can plug in and unit tests can use
//! small fake models instead of real weights.

use rten::{Model, ModelOptions};
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;

use tracing::debug;

use crate::ctc_head::{self, BEST_CLASS, BEST_PROB, Charset};
use crate::error::{EngineError, Result};
use crate::geometry::Quad;
use crate::pixels::PagePixels;
use crate::recognize::{RecParams, RecognizedLine};

/// How a model expects pixels to be normalised: per input channel (in the
/// model's channel order) `(v / 255 - mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    /// Channel order of the input tensor: `true` for BGR (PP-OCR's OpenCV heritage).
    pub bgr: bool,
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Normalization {
    /// ImageNet statistics applied to BGR data, as PP-OCRv6 detection was trained
    /// (its `inference.yml`: DecodeImage BGR + NormalizeImage with RGB-ordered means).
    pub const PPOCR_DET: Self = Self { bgr: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    /// `(v/255 - 0.5) / 0.5` as PP-OCR recognition expects.
    pub const PPOCR_REC: Self = Self { bgr: true, mean: [0.5; 3], std: [0.5; 3] };

    /// Per-channel `(scale, offset)` so that `v * scale + offset` normalises a
    /// byte value, indexed by the *RGB* source channel feeding each input channel.
    pub(crate) fn affine(&self) -> [(usize, f32, f32); 3] {
        let mut out = [(0, 0.0, 0.0); 3];
        for (c, o) in out.iter_mut().enumerate() {
            let src = if self.bgr { 2 - c } else { c };
            let scale = 1.0 / (255.0 * self.std[c]);
            *o = (src, scale, -self.mean[c] / self.std[c]);
        }
        out
    }
}

/// A text detector: page image tensor in, per-pixel text probability out.
pub trait DetectionModel: Send + Sync {
    /// Input normalisation.
    fn normalization(&self) -> Normalization;
    /// Runs `[1, 3, H, W]` → `[1, 1, H, W]` probabilities in `[0, 1]`.
    /// H and W are multiples of 32.
    fn run(&self, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, 4>>;
}

/// A line reader of one model family (PP-OCR's CTC networks through
/// [`CtcRecognizer`](crate::CtcRecognizer); others, e.g. Tesseract's LSTM,
/// behind the same trait): line regions of a page in, text with word boxes
/// and confidences out. The pipeline (orientation, text-layer read-back,
/// layout) calls only this, so it never knows which family read a line.
///
/// It takes the page and the line quads rather than cut-out crops because
/// each family samples its own crop from the page pixels (height, padding,
/// grey or colour): cutting first and resampling again would lose detail.
pub trait TextRecognizer: Send + Sync {
    /// What the recogniser can output, one character (grapheme) per entry:
    /// the text-layer check reads back only words it could spell.
    fn alphabet(&self) -> &[String];
    /// Reads the line in each of `lines` (page pixels, reading direction
    /// p0 → p1; a quad at least 1.5× taller than wide is vertical text).
    /// One entry per line in input order, `None` where nothing legible (or
    /// below `params.min_confidence`) was read. Word quads are in page pixels.
    fn recognize(&self, page: &PagePixels, lines: &[Quad], params: &RecParams) -> Result<Vec<Option<RecognizedLine>>>;
}

/// What a [`PageRecognizer`] read from one page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageRead {
    /// The page turned upright, when it had to turn.
    pub rotated: Option<PagePixels>,
    /// Clockwise degrees applied to the input.
    pub rotation: u16,
    /// Lines in the upright page's pixels, words in reading order.
    pub lines: Vec<RecognizedLine>,
    /// The recogniser segmented the page itself (columns apart, one line per
    /// printed line): layout takes its lines as they are instead of cutting
    /// them at wide gaps, which split verse numbers off Sanskrit lines.
    pub segmented: bool,
}

/// A family that segments and reads a whole page itself (Tesseract), for the
/// languages the line models do not serve. The pipeline lays out its lines
/// exactly as it does the line models'.
pub trait PageRecognizer: Send + Sync {
    /// Reads `page`, turning it upright first unless `assume_upright`.
    fn read_page(&self, page: &PagePixels, assume_upright: bool) -> Result<PageRead>;
}

/// Picks, per page, the reader for the page's script when the line models
/// do not read that script (`language=auto`): `None` keeps the line models.
pub trait ScriptRouter: Send + Sync {
    /// The page recogniser for `page`'s script, if it needs one; `lines` are
    /// the detector's line regions, longest first (a sample to classify).
    fn reader_for(&self, page: &PagePixels, lines: &[Quad]) -> Result<Option<std::sync::Arc<dyn PageRecognizer>>>;
}

/// What greedy CTC decoding needs of a batch: for every line and frame
/// (`[N, frames]`), the most probable class and its probability.
#[derive(Clone, Debug)]
pub struct FrameBest {
    /// Best class per frame (0 is the CTC blank).
    pub class: NdTensor<u32, 2>,
    /// Its probability.
    pub prob: NdTensor<f32, 2>,
}

impl FrameBest {
    /// Checks that the two outputs agree and every class is one of `classes`.
    pub(crate) fn checked(self, name: &str, classes: usize) -> Result<Self> {
        if self.class.shape() != self.prob.shape() {
            return Err(inference(name, "best-class and probability outputs differ in shape"));
        }
        if self.class.iter().any(|&c| c as usize >= classes) {
            return Err(inference(name, "best class outside the head"));
        }
        Ok(self)
    }
}

/// A CTC line recogniser network: `[N, 3, 48, W]` crops in, the best class of
/// every frame (`[N, W/8]`) out. Its graph ends in the arg-max and max over
/// the class probabilities (`ctc_head`), so the `[N, W/8, classes]`
/// probabilities never leave it.
pub trait RecognitionModel: Send + Sync {
    /// Input normalisation.
    fn normalization(&self) -> Normalization;
    /// Characters for classes `1..=len`; class 0 is the CTC blank and class
    /// `len + 1` is a space.
    fn alphabet(&self) -> &[String];
    /// Runs a batch of crops.
    fn run(&self, input: NdTensor<f32, 4>) -> Result<FrameBest>;
    /// Runs the last batch of a page: a backend that keeps working memory
    /// between runs gives it back when this one ends, so a worker busy with
    /// its next page's other stages does not hold it.
    fn run_last(&self, input: NdTensor<f32, 4>) -> Result<FrameBest> {
        self.run(input)
    }
}

pub(crate) fn invalid(name: &str, reason: impl Into<crate::error::BoxError>) -> EngineError {
    EngineError::InvalidModel { name: name.into(), source: reason.into() }
}

pub(crate) fn inference(name: &str, reason: impl Into<crate::error::BoxError>) -> EngineError {
    EngineError::Inference { model: name.into(), source: reason.into() }
}

/// Loads a graph with its MatMul weights prepacked into the GEMM's layout:
/// recognition runs once per line, and without prepacking every run repacks
/// the constant head weights (80 × 6,906 for tiny) before multiplying.
fn load_model(name: &str, onnx: Vec<u8>) -> Result<Model> {
    ModelOptions::with_all_ops().prepack_weights(true).load(onnx).map_err(|e| invalid(name, e))
}

fn run_model<const N: usize>(model: &Model, name: &str, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, N>> {
    let failed = |source: crate::error::BoxError| EngineError::Inference { model: name.into(), source };
    let out = model.run_one(input.into(), None).map_err(|e| failed(e.into()))?;
    out.try_into().map_err(|e| failed(format!("unexpected output: {e:?}").into()))
}

/// A PP-OCR DB detection network executed by rten.
pub struct RtenDetector {
    model: Model,
    name: String,
}

impl RtenDetector {
    /// Loads ONNX bytes.
    pub fn from_bytes(name: &str, onnx: Vec<u8>) -> Result<Self> {
        let model = load_model(name, onnx)?;
        Ok(Self { model, name: name.into() })
    }
}

impl DetectionModel for RtenDetector {
    fn normalization(&self) -> Normalization {
        Normalization::PPOCR_DET
    }

    fn run(&self, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, 4>> {
        run_model(&self.model, &self.name, input)
    }
}

/// A PP-OCR CTC recognition network executed by rten, with its dictionary.
pub struct RtenRecognizer {
    model: Model,
    name: String,
    alphabet: Vec<String>,
}

impl RtenRecognizer {
    /// Loads ONNX bytes and the dictionary (one character per line), keeping
    /// only the classes `charset` can emit (the CTC head is sliced before rten
    /// sees the graph; `Charset::All` keeps every class). A graph whose head
    /// does not have the expected shape is loaded whole.
    pub fn with_charset(name: &str, onnx: &[u8], dict: &str, charset: Charset) -> Result<Self> {
        let (onnx, alphabet) = ctc_graph_for_charset(name, onnx, dict, charset)?;
        let model = load_model(name, onnx)?;
        Ok(Self { model, name: name.into(), alphabet })
    }
}

/// A CTC recogniser's graph and alphabet restricted to what `charset` can
/// emit, the graph ending in the best class per frame (`ctc_head`): the one
/// rule every runtime backend loads through. A head that cannot be pruned is
/// kept whole (logged); a graph without a PP-OCR CTC head, or whose head does
/// not match the dictionary, is refused.
pub(crate) fn ctc_graph_for_charset(
    name: &str,
    onnx: &[u8],
    dict: &str,
    charset: Charset,
) -> Result<(Vec<u8>, Vec<String>)> {
    let mut alphabet: Vec<String> = dict.lines().map(|l| l.trim_end_matches('\r').to_string()).collect();
    if alphabet.is_empty() {
        return Err(invalid(name, "empty dictionary"));
    }
    let kept = charset.kept_entries(&alphabet);
    // Class 0 is the CTC blank, classes 1..=len the dictionary, len + 1 the space.
    let classes: Option<Vec<usize>> = kept
        .as_ref()
        .map(|kept| std::iter::once(0).chain(kept.iter().map(|&i| i + 1)).chain([alphabet.len() + 1]).collect());
    let graph = ctc_head::rewrite(onnx, classes.as_deref()).map_err(|e| invalid(name, e))?;
    // The whole head must match the whole dictionary: the text would be silently wrong otherwise.
    check_classes(name, graph.head_classes, &alphabet)?;
    if let (true, Some(kept)) = (graph.pruned, kept) {
        debug!(name, kept = kept.len(), of = alphabet.len(), "CTC head pruned");
        alphabet = kept.into_iter().map(|i| std::mem::take(&mut alphabet[i])).collect();
    }
    Ok((graph.onnx, alphabet))
}

/// Guards against a dictionary that does not belong to the model.
fn check_classes(name: &str, classes: usize, alphabet: &[String]) -> Result<()> {
    if classes == alphabet.len() + 2 {
        return Ok(());
    }
    Err(invalid(
        name,
        format!("{classes} output classes but the dictionary has {} entries (+2 expected)", alphabet.len()),
    ))
}

impl RecognitionModel for RtenRecognizer {
    fn normalization(&self) -> Normalization {
        Normalization::PPOCR_REC
    }

    fn alphabet(&self) -> &[String] {
        &self.alphabet
    }

    fn run(&self, input: NdTensor<f32, 4>) -> Result<FrameBest> {
        let failed = |source: crate::error::BoxError| inference(&self.name, source);
        let ids = (self.model.input_ids().first(), self.model.find_node(BEST_CLASS), self.model.find_node(BEST_PROB));
        let (Some(&input_id), Some(class_id), Some(prob_id)) = ids else {
            return Err(failed("not a rewritten CTC graph".into()));
        };
        let [class, prob] = self
            .model
            .run_n(vec![(input_id, input.into())], [class_id, prob_id], None)
            .map_err(|e| failed(e.into()))?;
        let class: NdTensor<i32, 2> = class.try_into().map_err(|e| failed(format!("best class: {e:?}").into()))?;
        let prob: NdTensor<f32, 2> = prob.try_into().map_err(|e| failed(format!("best probability: {e:?}").into()))?;
        // rten's ArgMax gives i32; a class is never negative.
        let class = class.map(|&c| u32::try_from(c).unwrap_or(u32::MAX));
        FrameBest { class, prob }.checked(&self.name, self.alphabet.len() + 2)
    }
}
