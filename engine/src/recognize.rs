//! Text recognition: cut each region out of the page straight into a
//! 48-pixel-high crop, run the CTC network in width-sorted batches, decode
//! greedily, and place words using the CTC frame positions.

use std::time::Duration;

use rten_tensor::prelude::*;
use rten_tensor::{NdTensor, NdTensorView};
use tracing::debug;
use web_time::Instant;

use crate::cpu_clock::{cpu_ms_between, process_cpu_ms};
use crate::error::Result;
use crate::geometry::{Point, Quad};
use crate::model::{Normalization, RecognitionModel, TextRecognizer};
use crate::pixels::{PagePixels, RgbPixels};

/// Recognition settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecParams {
    /// Crops per network call. Measured with rten on 2 cores: padding a batch
    /// to its widest crop costs more than per-call overhead saves, so 1 is
    /// fastest (46 s vs 61 s for batches of 8 on the printed + receipt set).
    pub batch_size: usize,
    /// Minimum input width. The reference pads to 320 px; accuracy is the
    /// same without (measured) and short words get much cheaper.
    pub min_width: usize,
    /// Lines whose mean character confidence is below this are dropped (noise).
    pub min_confidence: f32,
}

impl Default for RecParams {
    fn default() -> Self {
        Self { batch_size: 1, min_width: 48, min_confidence: 0.5 }
    }
}

/// Input height of PP-OCR recognisers.
pub const REC_HEIGHT: usize = 48;
/// Pixels of input width per CTC output frame.
const FRAME_WIDTH: f32 = 8.0;

/// A word (or other space-free run of characters) within a recognised line.
#[derive(Clone, Debug, PartialEq)]
pub struct RecognizedWord {
    /// Word text.
    pub text: String,
    /// Region of the word, a slice of the line's quad.
    pub quad: Quad,
    /// Mean character probability.
    pub confidence: f32,
}

/// A recognised line.
#[derive(Clone, Debug, PartialEq)]
pub struct RecognizedLine {
    /// The line region (reading direction p0 → p1).
    pub quad: Quad,
    /// Text with single spaces between words.
    pub text: String,
    /// Mean character probability.
    pub confidence: f32,
    /// Words left to right.
    pub words: Vec<RecognizedWord>,
}

/// Reading frame for a region: upright corners (rotated a quarter turn for
/// vertical text, as the reference does when height ≥ 1.5 × width).
fn reading_quad(quad: &Quad) -> Quad {
    if quad.height() >= 1.5 * quad.width() {
        let p = quad.0;
        Quad([p[1], p[2], p[3], p[0]])
    } else {
        *quad
    }
}

fn crop_width(quad: &Quad) -> usize {
    let (w, h) = (quad.width().max(1.0), quad.height().max(1.0));
    ((REC_HEIGHT as f32 * w / h).ceil() as usize).max(1)
}

fn sample_bilinear(img: &impl RgbPixels, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = img.size();
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let (a, b, c, d) = (img.rgb(x0, y0), img.rgb(x1, y0), img.rgb(x0, y1), img.rgb(x1, y1));
    let mut out = [0.0; 3];
    for (ch, o) in out.iter_mut().enumerate() {
        let top = f32::from(a[ch]) * (1.0 - fx) + f32::from(b[ch]) * fx;
        let bottom = f32::from(c[ch]) * (1.0 - fx) + f32::from(d[ch]) * fx;
        *o = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// Writes the normalised crop of `quad` (width `cw`) into `dst`, a
/// `[3, 48, W]` slice of the batch. Samples the page directly (one
/// resampling step) and supersamples when shrinking so thin strokes survive.
fn write_crop(img: &impl RgbPixels, quad: &Quad, cw: usize, norm: Normalization, dst: &mut [f32], batch_w: usize) {
    let [p0, p1, _, p3] = quad.0;
    let ux = Point::new((p1.x - p0.x) / cw as f32, (p1.y - p0.y) / cw as f32);
    let uy = Point::new((p3.x - p0.x) / REC_HEIGHT as f32, (p3.y - p0.y) / REC_HEIGHT as f32);
    let step = (uy.x * uy.x + uy.y * uy.y).sqrt().max((ux.x * ux.x + ux.y * ux.y).sqrt());
    let ss = (step.ceil() as usize).clamp(1, 4);
    let affine = norm.affine();
    let plane = REC_HEIGHT * batch_w;
    for v in 0..REC_HEIGHT {
        for u in 0..cw.min(batch_w) {
            let mut acc = [0.0f32; 3];
            for sy in 0..ss {
                for sx in 0..ss {
                    let fu = u as f32 + (sx as f32 + 0.5) / ss as f32;
                    let fv = v as f32 + (sy as f32 + 0.5) / ss as f32;
                    let x = p0.x + ux.x * fu + uy.x * fv - 0.5;
                    let y = p0.y + ux.y * fu + uy.y * fv - 0.5;
                    let s = sample_bilinear(img, x, y);
                    for c in 0..3 {
                        acc[c] += s[c];
                    }
                }
            }
            let n = (ss * ss) as f32;
            for (c, &(src, scale, offset)) in affine.iter().enumerate() {
                dst[c * plane + v * batch_w + u] = acc[src] / n * scale + offset;
            }
        }
    }
}

/// Decoded character with its CTC frame span.
struct CtcChar {
    class: usize,
    prob: f32,
    first: usize,
    last: usize,
}

/// Greedy CTC over one line's best class and probability per frame:
/// collapse repeats, drop blanks.
fn ctc_greedy(class: &NdTensorView<u32, 1>, prob: &NdTensorView<f32, 1>) -> Vec<CtcChar> {
    let mut out: Vec<CtcChar> = Vec::new();
    let mut prev = 0usize;
    for (t, (&best, &best_p)) in class.iter().zip(prob.iter()).enumerate() {
        let best = best as usize;
        if best != 0 {
            if best == prev {
                if let Some(last) = out.last_mut() {
                    last.last = t;
                    last.prob = last.prob.max(best_p);
                }
            } else {
                out.push(CtcChar { class: best, prob: best_p, first: t, last: t });
            }
        }
        prev = best;
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xAC00..=0xD7AF)
}

/// Builds the line text and words from decoded characters. Words split at
/// spaces; CJK characters are words of their own (no spaces in those scripts),
/// which keeps word boxes useful for selection and search.
fn assemble_line(
    chars: &[CtcChar],
    alphabet: &[String],
    quad: Quad,
    cw: usize,
    min_conf: f32,
) -> Option<RecognizedLine> {
    let space = alphabet.len() + 1;
    let text_of = |c: &CtcChar| -> &str {
        if c.class == space || c.class == 0 || c.class > alphabet.len() { " " } else { alphabet[c.class - 1].as_str() }
    };
    if chars.is_empty() {
        return None;
    }
    let confidence = chars.iter().map(|c| c.prob).sum::<f32>() / chars.len() as f32;
    if confidence < min_conf {
        return None;
    }
    // Group into words.
    let mut groups: Vec<Vec<&CtcChar>> = Vec::new();
    let mut current: Vec<&CtcChar> = Vec::new();
    for c in chars {
        let t = text_of(c);
        if t.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            continue;
        }
        let cjk = t.chars().next().is_some_and(is_cjk);
        if cjk && !current.is_empty() {
            groups.push(std::mem::take(&mut current));
        }
        current.push(c);
        if cjk {
            groups.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    let frames_total = cw as f32 / FRAME_WIDTH;
    let mut words: Vec<RecognizedWord> = Vec::with_capacity(groups.len());
    let mut spans: Vec<(f32, f32)> = Vec::with_capacity(groups.len());
    for g in &groups {
        let text: String = g.iter().map(|c| text_of(c)).collect();
        let conf = g.iter().map(|c| c.prob).sum::<f32>() / g.len() as f32;
        // CTC emits a character near its centre; widen by half a character on
        // each side (about one frame) so the box covers the glyphs.
        let t0 = (g[0].first as f32 - 0.75).max(0.0) / frames_total;
        let t1 = (g[g.len() - 1].last as f32 + 1.75) / frames_total;
        spans.push((t0.clamp(0.0, 1.0), t1.clamp(0.0, 1.0)));
        words.push(RecognizedWord { text, quad, confidence: conf });
    }
    // Neighbouring words must not overlap: split any overlap at its middle.
    for i in 1..spans.len() {
        if spans[i].0 < spans[i - 1].1 {
            let mid = (spans[i].0 + spans[i - 1].1) / 2.0;
            spans[i - 1].1 = mid;
            spans[i].0 = mid;
        }
    }
    for (w, (t0, t1)) in words.iter_mut().zip(spans) {
        w.quad = quad.slice(t0, t1.max(t0));
    }
    let mut text = String::new();
    for (i, w) in words.iter().enumerate() {
        let prev_cjk = i > 0 && words[i - 1].text.chars().last().is_some_and(is_cjk);
        let cjk = w.text.chars().next().is_some_and(is_cjk);
        if i > 0 && !(prev_cjk && cjk) {
            text.push(' ');
        }
        text.push_str(&w.text);
    }
    if text.is_empty() {
        return None;
    }
    Some(RecognizedLine { quad, text, confidence, words })
}

/// A CTC recognition network (PP-OCR) as a [`TextRecognizer`]: each line
/// cut straight from the page into a 48-pixel-high crop, the network run in
/// width-sorted batches, greedy decoding, words placed by frame position.
pub struct CtcRecognizer<M>(pub M);

impl<M: RecognitionModel> TextRecognizer for CtcRecognizer<M> {
    fn alphabet(&self) -> &[String] {
        self.0.alphabet()
    }

    fn recognize(&self, page: &PagePixels, lines: &[Quad], params: &RecParams) -> Result<Vec<Option<RecognizedLine>>> {
        read_lines(&self.0, page, lines, params)
    }
}

/// Recognises the text in each region of `page`. Returns one entry per
/// region (`None` where nothing legible was found), in the input order.
fn read_lines(
    model: &dyn RecognitionModel,
    page: &PagePixels,
    regions: &[Quad],
    params: &RecParams,
) -> Result<Vec<Option<RecognizedLine>>> {
    let quads: Vec<Quad> = regions.iter().map(reading_quad).collect();
    let widths: Vec<usize> = quads.iter().map(crop_width).collect();
    // Sort by width so each batch pads as little as possible.
    let mut order: Vec<usize> = (0..quads.len()).collect();
    order.sort_by_key(|&i| (widths[i], i));
    let norm = model.normalization();
    let mut results: Vec<Option<RecognizedLine>> = vec![None; quads.len()];
    // Stage profile (`OCRCHAT_LOG=ocrchat_engine=debug`): cropping vs network vs CTC decoding.
    let (mut crop_t, mut infer_t, mut ctc_t) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (mut crop_cpu, mut infer_cpu, mut ctc_cpu) = (0.0, 0.0, 0.0);
    let batches = order.len().div_ceil(params.batch_size.max(1));
    for (n, batch) in order.chunks(params.batch_size.max(1)).enumerate() {
        let (t0, c0) = (Instant::now(), process_cpu_ms());
        let batch_w = batch.iter().map(|&i| widths[i]).max().unwrap_or(1).max(params.min_width);
        // Padding stays 0 after normalisation: mid-grey, as in the reference.
        let item = 3 * REC_HEIGHT * batch_w;
        let mut data = vec![0f32; batch.len() * item];
        for (slot, &i) in batch.iter().enumerate() {
            let dst = &mut data[slot * item..(slot + 1) * item];
            match page {
                PagePixels::Grey(img) => write_crop(img, &quads[i], widths[i], norm, dst, batch_w),
                PagePixels::Rgb(img) => write_crop(img, &quads[i], widths[i], norm, dst, batch_w),
            }
        }
        let input = NdTensor::from_data([batch.len(), 3, REC_HEIGHT, batch_w], data);
        let (t1, c1) = (Instant::now(), process_cpu_ms());
        let output = if n + 1 == batches { model.run_last(input)? } else { model.run(input)? };
        let (t2, c2) = (Instant::now(), process_cpu_ms());
        for (slot, &i) in batch.iter().enumerate() {
            let chars = ctc_greedy(&output.class.slice(slot), &output.prob.slice(slot));
            results[i] = assemble_line(&chars, model.alphabet(), quads[i], widths[i], params.min_confidence);
        }
        crop_t += t1 - t0;
        infer_t += t2 - t1;
        ctc_t += t2.elapsed();
        crop_cpu += cpu_ms_between(c0, c1);
        infer_cpu += cpu_ms_between(c1, c2);
        ctc_cpu += cpu_ms_between(c2, process_cpu_ms());
    }
    debug!(
        lines = quads.len(),
        crop_ms = crop_t.as_secs_f64() * 1e3,
        infer_ms = infer_t.as_secs_f64() * 1e3,
        ctc_ms = ctc_t.as_secs_f64() * 1e3,
        crop_cpu_ms = crop_cpu,
        infer_cpu_ms = infer_cpu,
        ctc_cpu_ms = ctc_cpu,
        "stage: recognise"
    );
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alphabet() -> Vec<String> {
        "abc你好".chars().map(String::from).collect()
    }

    /// Builds per-frame probabilities from a class sequence (one frame each).
    /// A line's best class per frame, each at probability 0.9.
    fn frames(seq: &[usize]) -> (NdTensor<u32, 1>, NdTensor<f32, 1>) {
        let class = NdTensor::from_data([seq.len()], seq.iter().map(|&c| c as u32).collect::<Vec<_>>());
        (class, NdTensor::full([seq.len()], 0.9))
    }

    fn greedy(frames: &(NdTensor<u32, 1>, NdTensor<f32, 1>)) -> Vec<CtcChar> {
        ctc_greedy(&frames.0.view(), &frames.1.view())
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        // classes: 0 blank, 1..=5 "abc你好", 6 space
        let table: &[(&[usize], &str)] = &[
            (&[1, 1, 0, 1, 2, 2, 0, 0, 3], "aabc"),
            (&[0, 0, 0], ""),
            (&[1, 6, 6, 2, 0, 6, 3], "a b c"),
            (&[4, 0, 5, 6, 1], "你好 a"),
        ];
        for &(seq, want) in table {
            let chars = greedy(&frames(seq));
            let quad = Quad::from_rect(0.0, 0.0, 8.0 * seq.len() as f32, 48.0);
            let line = assemble_line(&chars, &alphabet(), quad, 8 * seq.len(), 0.5);
            assert_eq!(line.map(|l| l.text).unwrap_or_default(), want, "{seq:?}");
        }
    }

    #[test]
    fn word_boxes_follow_ctc_frames_in_order() {
        let seq = [1, 0, 2, 0, 6, 0, 0, 0, 3, 0, 3, 0];
        let chars = greedy(&frames(&seq));
        let quad = Quad::from_rect(100.0, 10.0, 196.0, 58.0); // 96 px = 12 frames
        let line = assemble_line(&chars, &alphabet(), quad, 96, 0.5).unwrap();
        assert_eq!(line.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["ab", "cc"]);
        let (a, b) = (line.words[0].quad.bounds(), line.words[1].quad.bounds());
        assert!(a[0] >= 100.0 && a[2] <= b[0] + 1e-3 && b[2] <= 196.0, "{a:?} {b:?}");
        assert!(a[2] < 140.0 && b[0] > 150.0, "{a:?} {b:?}");
    }

    #[test]
    fn low_confidence_lines_are_dropped() {
        let mut line = frames(&[1, 2]);
        line.1.fill(0.3);
        let chars = greedy(&line);
        assert!(assemble_line(&chars, &alphabet(), Quad::from_rect(0., 0., 16., 48.), 16, 0.5).is_none());
    }

    #[test]
    fn a_grey_page_crops_as_its_rgb_conversion() {
        let grey = image::GrayImage::from_fn(200, 90, |x, y| image::Luma([((x * 11 + y * 5) % 256) as u8]));
        let rgb = image::DynamicImage::ImageLuma8(grey.clone()).into_rgb8();
        // A slanted line shrunk 2× (supersampled) and one enlarged.
        for quad in [
            Quad([Point::new(3.5, 10.0), Point::new(190.0, 30.0), Point::new(186.0, 80.0), Point::new(0.0, 60.0)]),
            Quad::from_rect(20.0, 20.0, 60.0, 40.0),
        ] {
            let cw = crop_width(&quad);
            let (mut a, mut b) = (vec![0.0; 3 * REC_HEIGHT * cw], vec![0.0; 3 * REC_HEIGHT * cw]);
            write_crop(&grey, &quad, cw, Normalization::PPOCR_REC, &mut a, cw);
            write_crop(&rgb, &quad, cw, Normalization::PPOCR_REC, &mut b, cw);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn vertical_regions_are_read_rotated() {
        let tall = Quad::from_rect(0.0, 0.0, 20.0, 200.0);
        let q = reading_quad(&tall);
        assert!(q.width() > q.height());
        let wide = Quad::from_rect(0.0, 0.0, 200.0, 20.0);
        assert_eq!(reading_quad(&wide), wide);
    }
}
