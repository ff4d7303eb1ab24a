//! Born-digital PDF pages: the text layer read straight from the content
//! stream (exact text, confidence 1.0, positions in the same pixel space the
//! page is rendered to for OCR), turned into the lines the layout pass takes.
//! Pages whose text layer is unusable (no Unicode mapping: private-use,
//! control or replacement characters) are reported as such so the caller OCRs
//! them instead. A layer of plausible but wrong letters (a shifted or custom
//! encoding) passes that test: [`sample`] picks words for the caller to read
//! back with the recogniser and [`partial_cer`] compares the two.

use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask, interpret_page,
};
use hayro::hayro_syntax::page::Page;
use hayro::kurbo::{Affine, BezPath, Point as KPoint, Rect as KRect};

use std::collections::HashSet;

use crate::geometry::Quad;
use crate::recognize::{RecognizedLine, RecognizedWord};

/// Characters of text-layer words read back with the recogniser: enough to
/// tell a wrong encoding from OCR noise, short enough to cost one small crop
/// (recognition time grows with the crop's width).
const SAMPLE_CHARS: usize = 16;

/// One glyph of the text layer in page pixels.
#[derive(Clone, Debug)]
struct TextGlyph {
    text: String,
    /// Baseline origin.
    x: f32,
    baseline: f32,
    /// Advance end.
    x_end: f32,
    /// Font size in pixels (em height).
    size: f32,
}

/// Collects the glyphs a page shows, visible or not (scans with an OCR layer
/// draw theirs invisibly).
struct TextCollector {
    glyphs: Vec<TextGlyph>,
    unmapped: usize,
}

impl<'a> Device<'a> for TextCollector {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}

    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        for g in run.glyphs() {
            let t: Affine = props.transform * g.transform();
            let origin = t * KPoint::new(0.0, 0.0);
            // Glyph space is 1000 units per em.
            let up = t * KPoint::new(0.0, 1000.0);
            let size = ((up.x - origin.x).powi(2) + (up.y - origin.y).powi(2)).sqrt() as f32;
            let advance = match &**g {
                Glyph::Outline(o) => o.advance_width(),
                Glyph::Type3(t3) => t3.advance_width(),
            }
            .filter(|a| a.is_finite() && *a > 0.0)
            .unwrap_or(500.0);
            let end = t * KPoint::new(f64::from(advance), 0.0);
            let text = match g.as_unicode() {
                Some(hayro::hayro_interpret::hayro_cmap::BfString::Char(c)) => c.to_string(),
                Some(hayro::hayro_interpret::hayro_cmap::BfString::String(s)) => s,
                None => {
                    self.unmapped += 1;
                    continue;
                }
            };
            if !size.is_finite() || size < 0.5 {
                continue;
            }
            self.glyphs.push(TextGlyph {
                text,
                x: origin.x as f32,
                baseline: origin.y as f32,
                x_end: end.x as f32,
                size,
            });
        }
    }
}

/// Text layer of one page ([`PdfSource::text_layer`](crate::PdfSource::text_layer)).
pub struct TextLayer {
    /// Lines in page pixels, ready for layout.
    pub lines: Vec<RecognizedLine>,
    /// Whether the text is trustworthy enough to skip OCR.
    pub usable: bool,
    /// Width and height of the page in those pixels (what it renders to for OCR).
    pub size: (u32, u32),
}

/// Typographic ligatures (ﬁ, ﬂ, …) as their letters, so search and export see words.
fn expand_ligatures(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| ('\u{FB00}'..='\u{FB06}').contains(&c)) {
        return s.into();
    }
    s.chars()
        .map(|c| match c {
            '\u{FB00}' => "ff".to_string(),
            '\u{FB01}' => "fi".to_string(),
            '\u{FB02}' => "fl".to_string(),
            '\u{FB03}' => "ffi".to_string(),
            '\u{FB04}' => "ffl".to_string(),
            '\u{FB05}' | '\u{FB06}' => "st".to_string(),
            c => c.to_string(),
        })
        .collect::<String>()
        .into()
}

/// The combining mark for an accent drawn as its own glyph.
fn combining_form(c: char) -> Option<char> {
    let mark = match c {
        '\u{0300}'..='\u{036F}' => c,
        '\u{00A8}' => '\u{0308}',
        '\u{00B4}' => '\u{0301}',
        '\u{02C6}' => '\u{0302}',
        '\u{02DC}' => '\u{0303}',
        '\u{02C7}' => '\u{030C}',
        '\u{02D8}' => '\u{0306}',
        '\u{02D9}' => '\u{0307}',
        '\u{02DA}' => '\u{030A}',
        _ => return None,
    };
    Some(mark)
}

/// Characters that betray a font without a real Unicode mapping.
fn is_garbage(c: char) -> bool {
    matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xFFFD) || (c.is_control() && !c.is_whitespace())
}

/// Reads the text layer of `page` as it appears when rendered with `transform`.
pub fn text_layer(page: &Page<'_>, transform: Affine, size: (u32, u32)) -> TextLayer {
    let cache = InterpreterCache::new();
    let bbox = KRect::new(0.0, 0.0, f64::from(size.0), f64::from(size.1));
    let mut ctx = Context::new(transform, bbox, &cache, page.xref(), InterpreterSettings::default());
    let mut dev = TextCollector { glyphs: Vec::new(), unmapped: 0 };
    let ok =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| interpret_page(page, &mut ctx, &mut dev))).is_ok();
    let total_chars: usize = dev.glyphs.iter().map(|g| g.text.chars().filter(|c| !c.is_whitespace()).count()).sum();
    let garbage: usize =
        dev.glyphs.iter().map(|g| g.text.chars().filter(|&c| is_garbage(c)).count()).sum::<usize>() + dev.unmapped;
    let usable = ok && total_chars >= 20 && (garbage as f32) <= 0.02 * (total_chars + dev.unmapped) as f32;
    TextLayer { lines: if usable { group_lines(dev.glyphs) } else { Vec::new() }, usable, size }
}

/// Groups glyphs into lines (same baseline, contiguous) and words (split at
/// spaces or gaps wider than a quarter em).
fn group_lines(mut glyphs: Vec<TextGlyph>) -> Vec<RecognizedLine> {
    // Content streams draw each line left to right (that is how text is
    // shown); keep that order and start a new line at every jump. Layout
    // then orders the lines, so the drawing order of lines does not matter.
    glyphs.retain(|g| g.x.is_finite() && g.baseline.is_finite());
    let mut lines: Vec<Vec<TextGlyph>> = Vec::new();
    for g in glyphs {
        let joins = lines.last().and_then(|l| l.last()).is_some_and(|p| {
            let size = p.size.max(g.size);
            // Super- and subscripts are smaller and shifted off the baseline.
            let shift = if g.size < 0.85 * p.size || p.size < 0.85 * g.size { 0.6 } else { 0.3 };
            (p.baseline - g.baseline).abs() <= shift * size
                && g.x >= p.x - 0.1 * p.size
                && g.x - p.x_end <= 1.5 * p.size.max(g.size)
        });
        if joins {
            lines.last_mut().expect("checked").push(g);
        } else {
            lines.push(vec![g]);
        }
    }
    lines.into_iter().filter_map(build_line).collect()
}

fn build_line(glyphs: Vec<TextGlyph>) -> Option<RecognizedLine> {
    let size = glyphs.iter().map(|g| g.size).fold(0.0f32, f32::max);
    let baseline = glyphs.iter().map(|g| g.baseline).sum::<f32>() / glyphs.len() as f32;
    let (top, bottom) = (baseline - 0.85 * size, baseline + 0.25 * size);
    let mut words: Vec<(String, f32, f32)> = Vec::new();
    let mut prev_end: Option<f32> = None;
    let mut pending_mark: Option<char> = None;
    for g in &glyphs {
        let is_space = g.text.trim().is_empty();
        // TeX draws accents as separate glyphs before the letter they sit
        // on: keep them in the word and put them after that letter as a
        // combining mark ("¨" + "ı" → "ı̈"), as Unicode text expects.
        if let Some(mark) = g.text.chars().next().and_then(combining_form)
            && !words.is_empty()
        {
            pending_mark = Some(mark);
            continue;
        }
        let gap = prev_end.map_or(0.0, |e| g.x - e);
        // Justified TeX output has no space glyphs: interword gaps shrink
        // to ~0.2 em while kerning stays under ~0.1 em.
        if is_space || gap > 0.12 * size || words.is_empty() {
            if is_space {
                prev_end = Some(g.x_end);
                words.push((String::new(), g.x_end, g.x_end));
                continue;
            }
            words.push((String::new(), g.x, g.x_end));
        }
        let w = words.last_mut().expect("pushed");
        if w.0.is_empty() {
            w.1 = g.x;
        }
        w.0.push_str(&expand_ligatures(g.text.trim()));
        if let Some(mark) = pending_mark.take() {
            w.0.push(mark);
        }
        w.2 = w.2.max(g.x_end);
        prev_end = Some(g.x_end);
    }
    let words: Vec<RecognizedWord> = words
        .into_iter()
        .filter(|w| !w.0.is_empty())
        .map(|(text, x0, x1)| RecognizedWord {
            text,
            quad: Quad::from_rect(x0, top, x1.max(x0 + 1.0), bottom),
            confidence: 1.0,
        })
        .collect();
    if words.is_empty() {
        return None;
    }
    let x0 = words.iter().map(|w| w.quad.bounds()[0]).fold(f32::MAX, f32::min);
    let x1 = words.iter().map(|w| w.quad.bounds()[2]).fold(f32::MIN, f32::max);
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    Some(RecognizedLine { quad: Quad::from_rect(x0, top, x1, bottom), text, confidence: 1.0, words })
}

/// A run of words from the start of one text-layer line to read back with
/// the recogniser: its text and the box to crop (with the margin detection's
/// unclipped boxes have). Only runs of at least 10 characters the recogniser
/// can spell (every one in `alphabet`: other scripts cannot be checked) and
/// mostly letters (not formulas or code) qualify; the one with the most
/// letters wins.
pub fn sample(lines: &[RecognizedLine], alphabet: &HashSet<char>) -> Option<(String, Quad)> {
    let mut best: Option<(usize, String, Quad)> = None;
    for line in lines {
        let mut text = String::new();
        let mut bounds: Option<[f32; 4]> = None;
        for w in &line.words {
            if text.chars().count() + w.text.chars().count() > SAMPLE_CHARS {
                break;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&w.text);
            let b = w.quad.bounds();
            bounds = Some(bounds.map_or(b, |a| [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])]));
        }
        let Some(b) = bounds else { continue };
        let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let letters = chars.iter().filter(|c| c.is_alphabetic()).count();
        if chars.len() < 10 || letters * 10 < chars.len() * 7 || !chars.iter().all(|c| alphabet.contains(c)) {
            continue;
        }
        if best.as_ref().is_none_or(|(n, ..)| letters > *n) {
            let h = b[3] - b[1];
            let quad = Quad::from_rect(b[0] - 0.3 * h, b[1] - 0.15 * h, b[2] + 0.3 * h, b[3] + 0.15 * h);
            best = Some((letters, text, quad));
        }
    }
    best.map(|(_, text, quad)| (text, quad))
}

/// Edit distance from `needle` to its best-matching stretch of `haystack`,
/// per character of `needle`, case-folded and without whitespace: the crop
/// around sampled words may show a little of their neighbours.
pub fn partial_cer(needle: &str, haystack: &str) -> f32 {
    let norm = |s: &str| s.to_lowercase().chars().filter(|c| !c.is_whitespace()).collect::<Vec<char>>();
    let (n, h) = (norm(needle), norm(haystack));
    if n.is_empty() {
        return 0.0;
    }
    // Semi-global alignment: the match may start and end anywhere in the haystack.
    let mut prev = vec![0usize; h.len() + 1];
    for (i, a) in n.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, b) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(a != b)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    *prev.iter().min().expect("non-empty") as f32 / n.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(text: &str, x: f32, baseline: f32) -> TextGlyph {
        TextGlyph { text: text.into(), x, baseline, x_end: x + 10.0, size: 20.0 }
    }

    #[test]
    fn glyphs_group_into_lines_and_words() {
        let glyphs = vec![
            g("H", 100.0, 100.0),
            g("i", 110.0, 100.5),
            g(" ", 120.0, 100.0),
            g("y", 130.0, 100.0),
            g("o", 140.0, 100.0),
            g("u", 150.0, 100.0),
            g("O", 100.0, 200.0),
            g("k", 110.0, 200.0),
            g("l", 130.0, 200.0),
            g("\u{FB01}", 140.0, 200.0),
            g("\u{A8}", 151.0, 200.0),
            g("\u{131}", 150.0, 200.0),
        ];
        let lines = group_lines(glyphs);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Hi you", "Ok lfi\u{131}\u{308}"]);
        assert_eq!(lines[0].words.len(), 2);
        let b = lines[0].quad.bounds();
        assert!(b[1] < 100.0 - 15.0 && b[3] > 100.0 && b[0] == 100.0, "{b:?}");
    }

    #[test]
    fn samples_are_long_letter_runs_the_recogniser_can_spell() {
        let line = |y: f32, words: &[&str]| {
            let glyphs: Vec<TextGlyph> = words
                .iter()
                .enumerate()
                .flat_map(|(k, w)| {
                    let x0 = 100.0 + 400.0 * k as f32;
                    w.chars().enumerate().map(move |(i, c)| g(&c.to_string(), x0 + 10.0 * i as f32, y))
                })
                .collect();
            build_line(glyphs).unwrap()
        };
        let alphabet: HashSet<char> = ('a'..='z').chain('A'..='Z').chain(['=', '+', '1', '2']).collect();
        let lines = vec![
            line(100.0, &["x=1+2=y+1+2", "=2"]),
            line(200.0, &["Short"]),
            line(300.0, &["Привет", "мир", "длинный"]),
            line(400.0, &["Interpreters", "are", "slow", "but", "simple", "to", "write"]),
        ];
        let (text, quad) = sample(&lines, &alphabet).expect("a sample");
        assert_eq!(text, "Interpreters are");
        let b = quad.bounds();
        assert!(b[0] < 100.0 && b[2] > 530.0 && b[2] < 600.0 && b[1] < 400.0 - 17.0 && b[3] > 405.0, "{b:?}");
        assert!(sample(&lines[..3], &alphabet).is_none());
    }

    #[test]
    fn partial_cer_finds_the_sample_inside_a_wider_reading() {
        assert_eq!(partial_cer("quick brown", "The Quick brown fox"), 0.0);
        assert!((partial_cer("quick brown", "the quiek brown") - 0.1).abs() < 1e-6);
        assert!(partial_cer("Uif rvjdl cspxo", "The quick brown") > 0.6);
        assert_eq!(partial_cer("abc", ""), 1.0);
    }

    #[test]
    fn garbage_characters() {
        assert!(is_garbage('\u{E012}') && is_garbage('\u{FFFD}') && is_garbage('\u{1}'));
        assert!(!is_garbage('a') && !is_garbage('é') && !is_garbage('中') && !is_garbage(' '));
    }
}
