//! Layout analysis: recognised line fragments → lines → blocks (paragraphs,
//! headings, list items, tables) → reading order.
//!
//! Paragraph blocks of running text are units of reading order; every other
//! line (receipts, forms, tables, captions) is a unit of its own. Across a
//! column gutter (found between side-by-side paragraph blocks) the order is
//! Breuel's ("High Performance Document Layout Analysis", 2003, as in
//! OCRopus): the left unit first unless an element spanning both lies between
//! them vertically. Elsewhere it is row-major: the upper unit first, the left
//! one within a row. Sorting everything by y then x (the reference pipeline)
//! interleaves columns; column order everywhere would read receipts as a list
//! of items followed by a list of prices. Consecutive rows with several cells
//! become a table block.

use crate::document::{BBox, Block, BlockKind, Line, Word};
use crate::recognize::RecognizedLine;

/// Axis-aligned rectangle in page pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

impl Rect {
    fn from_bounds(b: [f32; 4]) -> Self {
        Rect { x0: b[0], y0: b[1], x1: b[2], y1: b[3] }
    }
    fn w(&self) -> f32 {
        self.x1 - self.x0
    }
    fn cy(&self) -> f32 {
        (self.y0 + self.y1) / 2.0
    }
    fn union(&self, o: &Rect) -> Rect {
        Rect { x0: self.x0.min(o.x0), y0: self.y0.min(o.y0), x1: self.x1.max(o.x1), y1: self.y1.max(o.y1) }
    }
    fn x_overlap(&self, o: &Rect) -> f32 {
        (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0)
    }
    fn y_overlap(&self, o: &Rect) -> f32 {
        (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0)
    }
    fn to_bbox(self) -> BBox {
        [
            self.x0.floor().max(0.0) as u32,
            self.y0.floor().max(0.0) as u32,
            self.x1.ceil().max(0.0) as u32,
            self.y1.ceil().max(0.0) as u32,
        ]
    }
}

/// One text line (possibly several detected fragments merged).
#[derive(Clone, Debug)]
struct TextLine {
    rect: Rect,
    /// Text height: the short side of the detected region(s).
    height: f32,
    text: String,
    confidence: f32,
    words: Vec<Word>,
}

/// Tunables of the layout pass, all relative to text height so they hold at
/// any resolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayoutParams {
    /// Fragments on one row closer than this × height are one line.
    pub merge_gap: f32,
    /// Lines closer vertically than this × height can share a block.
    pub block_gap: f32,
    /// Blocks side by side are text columns (not a table) when both have lines
    /// at least this many heights wide.
    pub column_min_width: f32,
    /// Headings are at least this much taller than the page's median line.
    pub heading_ratio: f32,
    /// Join words hyphenated across line ends inside paragraphs and list
    /// items (see [`join_hyphenated`]). Off by default: OCR ground truth
    /// (and OCR users) keep the hyphen the page shows, and a misread line end
    /// must not swallow the next word; the exact text of a PDF text layer
    /// turns it on, as `pdftotext` does.
    pub join_hyphens: bool,
    /// The lines come from a recogniser that segments pages itself
    /// (Tesseract): they are not cut at wide gaps.
    pub segmented: bool,
}

impl Default for LayoutParams {
    fn default() -> Self {
        Self {
            merge_gap: 0.3,
            block_gap: 0.75,
            column_min_width: 10.0,
            heading_ratio: 1.4,
            join_hyphens: false,
            segmented: false,
        }
    }
}

fn union_find_root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn unite(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (union_find_root(parent, a), union_find_root(parent, b));
    if ra != rb {
        parent[ra.max(rb)] = ra.min(rb);
    }
}

fn groups(parent: &mut [usize]) -> Vec<Vec<usize>> {
    let n = parent.len();
    let mut slot = vec![usize::MAX; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let r = union_find_root(parent, i);
        if slot[r] == usize::MAX {
            slot[r] = out.len();
            out.push(Vec::new());
        }
        out[slot[r]].push(i);
    }
    out
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

fn same_row(a: &TextLine, b: &TextLine) -> bool {
    let h = a.height.min(b.height);
    a.rect.y_overlap(&b.rect) >= 0.5 * h && a.height.max(b.height) <= 1.6 * h
}

fn to_text_line(l: &RecognizedLine) -> TextLine {
    let words = l
        .words
        .iter()
        .map(|w| Word {
            text: w.text.clone(),
            bbox: Rect::from_bounds(w.quad.bounds()).to_bbox(),
            confidence: w.confidence,
        })
        .collect();
    TextLine {
        rect: Rect::from_bounds(l.quad.bounds()),
        height: l.quad.height().min(l.quad.width()),
        text: l.text.clone(),
        confidence: l.confidence,
        words,
    }
}

/// Splits lines that detection ran across a narrow column gutter. A wide
/// gap between two words is a gutter when a neighbouring line (within two
/// line heights) ends or starts inside it instead of spanning it; inside a
/// justified paragraph the neighbours span every word gap.
fn split_at_gutters(lines: Vec<TextLine>) -> Vec<TextLine> {
    let rects: Vec<(Rect, f32)> = lines.iter().map(|l| (l.rect, l.height)).collect();
    let mut out = Vec::with_capacity(lines.len());
    for (li, line) in lines.into_iter().enumerate() {
        let h = line.height;
        let mut cuts = Vec::new();
        for k in 1..line.words.len() {
            let (g0, g1) = (line.words[k - 1].bbox[2] as f32, line.words[k].bbox[0] as f32);
            if g1 - g0 < 0.6 * h {
                continue;
            }
            let edges = rects
                .iter()
                .enumerate()
                .filter(|&(mi, &(m, mh))| {
                    mi != li
                        && mh.max(h) <= 1.5 * mh.min(h)
                        && (m.cy() - line.rect.cy()).abs() <= 2.5 * h
                        && m.y_overlap(&line.rect) < 0.5 * h
                })
                .filter(|&(_, &(m, _))| {
                    let ends_inside = m.x1 >= g0 - 0.5 * h && m.x1 <= g1 + 0.2 * h && m.x0 < g0;
                    let starts_inside = m.x0 >= g0 - 0.2 * h && m.x0 <= g1 + 0.5 * h && m.x1 > g1;
                    ends_inside || starts_inside
                })
                .count();
            if edges >= 2 || (edges == 1 && g1 - g0 >= 0.8 * h) {
                cuts.push(k);
            }
        }
        if cuts.is_empty() {
            out.push(line);
            continue;
        }
        let mut start = 0;
        for end in cuts.into_iter().chain([line.words.len()]) {
            let words = line.words[start..end].to_vec();
            let b = words.iter().fold([u32::MAX, u32::MAX, 0, 0], |a, w| {
                [a[0].min(w.bbox[0]), a[1].min(w.bbox[1]), a[2].max(w.bbox[2]), a[3].max(w.bbox[3])]
            });
            let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32;
            out.push(TextLine {
                rect: Rect { x0: b[0] as f32, y0: line.rect.y0, x1: b[2] as f32, y1: line.rect.y1 },
                height: h,
                text: words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "),
                confidence,
                words,
            });
            start = end;
        }
    }
    out
}

/// Joins fragments of one printed line that detection split at a wide space.
fn merge_fragments(mut lines: Vec<TextLine>, p: &LayoutParams) -> Vec<TextLine> {
    lines.sort_by(|a, b| a.rect.x0.total_cmp(&b.rect.x0));
    let n = lines.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        // Only the nearest fragment to the right on the same row may join.
        let mut best: Option<(f32, usize)> = None;
        for j in 0..n {
            if i == j || !same_row(&lines[i], &lines[j]) {
                continue;
            }
            let gap = lines[j].rect.x0 - lines[i].rect.x1;
            let h = lines[i].height.max(lines[j].height);
            if gap >= -0.5 * h && lines[j].rect.x0 > lines[i].rect.x0 && best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, j));
            }
        }
        if let Some((gap, j)) = best
            && gap <= p.merge_gap * lines[i].height.max(lines[j].height)
        {
            unite(&mut parent, i, j);
        }
    }
    groups(&mut parent)
        .into_iter()
        .map(|g| {
            // Group members are in x order (indices ascend with x0).
            let mut it = g.into_iter().map(|i| lines[i].clone());
            let mut acc = it.next().expect("non-empty group");
            let mut weight = acc.text.chars().count() as f32;
            acc.confidence *= weight;
            for l in it {
                let wl = l.text.chars().count() as f32;
                acc.rect = acc.rect.union(&l.rect);
                acc.height = acc.height.max(l.height);
                acc.text.push(' ');
                acc.text.push_str(&l.text);
                acc.confidence += l.confidence * wl;
                weight += wl;
                acc.words.extend(l.words);
            }
            acc.confidence /= weight.max(1.0);
            acc
        })
        .collect()
}

/// Groups lines into paragraph blocks: each line links to the nearest line
/// below it that overlaps it horizontally, when the gap is small and the text
/// size similar.
fn group_blocks(lines: &[TextLine], p: &LayoutParams) -> Vec<Vec<usize>> {
    let n = lines.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for i in 0..n {
        let a = &lines[i];
        let below = (0..n)
            .filter(|&j| j != i && lines[j].rect.cy() > a.rect.y1.min(a.rect.cy() + 0.5 * a.height))
            .filter(|&j| a.rect.x_overlap(&lines[j].rect) > 0.0)
            .min_by(|&x, &y| lines[x].rect.y0.total_cmp(&lines[y].rect.y0));
        let Some(j) = below else { continue };
        let b = &lines[j];
        let h = a.height.min(b.height);
        let gap = b.rect.y0 - a.rect.y1;
        let overlap = a.rect.x_overlap(&b.rect);
        // A line below may be narrower (a paragraph's last line) but not much
        // wider: a line spanning two columns must not glue them together.
        let aligned = overlap >= 0.4 * a.rect.w().min(b.rect.w());
        if gap <= p.block_gap * h && a.height.max(b.height) <= 1.3 * h && aligned {
            unite(&mut parent, i, j);
        }
    }
    groups(&mut parent)
}

/// A unit of reading order: a paragraph block, or a single line of
/// loosely arranged text (receipts, forms, tables, captions).
struct Unit {
    lines: Vec<usize>,
    rect: Rect,
    /// Index of the block the line(s) came from.
    block: usize,
    /// Whether this is a whole paragraph block (running text or heading).
    paragraph: bool,
}

fn rect_of(lines: &[TextLine], idx: &[usize]) -> Rect {
    idx.iter().map(|&i| lines[i].rect).reduce(|a, b| a.union(&b)).expect("non-empty")
}

/// Paragraph blocks (several wide lines of running text, or a heading) stay
/// whole; every other block is broken into its lines so that rows of short
/// fragments (receipts, forms, tables) can be read row by row.
fn make_units(lines: &[TextLine], blocks: &[Vec<usize>], med_h: f32, p: &LayoutParams) -> Vec<Unit> {
    let mut units = Vec::new();
    for (bi, b) in blocks.iter().enumerate() {
        let h = median(b.iter().map(|&i| lines[i].height).collect());
        // Lower median: in a two-line block both lines must be wide.
        let mut widths: Vec<f32> = b.iter().map(|&i| lines[i].rect.w()).collect();
        widths.sort_by(f32::total_cmp);
        let w = widths[(widths.len() - 1) / 2];
        let heading = b.len() <= 3 && lines.len() >= 4 && h >= p.heading_ratio * med_h;
        if heading || (b.len() >= 2 && w >= p.column_min_width * h) {
            units.push(Unit { rect: rect_of(lines, b), lines: b.clone(), block: bi, paragraph: true });
        } else {
            units.extend(b.iter().map(|&i| Unit { rect: lines[i].rect, lines: vec![i], block: bi, paragraph: false }));
        }
    }
    units
}

/// A gutter between two side-by-side paragraph units: `[x0, x1]` horizontally,
/// `[y0, y1]` the vertical extent of the pair.
struct Gutter {
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
}

fn find_gutters(units: &[Unit]) -> Vec<Gutter> {
    let paras: Vec<&Unit> = units.iter().filter(|u| u.paragraph && u.lines.len() >= 2).collect();
    let mut out = Vec::new();
    for a in &paras {
        for b in &paras {
            if a.rect.x1 > b.rect.x0 || a.rect.y_overlap(&b.rect) <= 0.0 {
                continue;
            }
            let (lo, hi) = (a.rect.y0.max(b.rect.y0), a.rect.y1.min(b.rect.y1));
            let between = paras
                .iter()
                .any(|c| c.rect.x0 >= a.rect.x1 && c.rect.x1 <= b.rect.x0 && c.rect.y1 > lo && c.rect.y0 < hi);
            if !between {
                out.push(Gutter {
                    x0: a.rect.x1,
                    x1: b.rect.x0,
                    y0: a.rect.y0.min(b.rect.y0),
                    y1: a.rect.y1.max(b.rect.y1),
                });
            }
        }
    }
    out
}

/// Reading order over units as a topological sort of pairwise precedence:
/// - units sharing x-range: the upper one first;
/// - units on either side of a column gutter: Breuel's rule — the left one
///   first unless an element spanning both lies between them vertically;
/// - anything else (receipts, forms, tables, captions): row-major — the
///   upper one first, or the left one when they share a row.
///
/// Ties go to the topmost, then leftmost, available unit.
fn reading_order(units: &[Unit], med_h: f32) -> Vec<usize> {
    let n = units.len();
    let r: Vec<Rect> = units.iter().map(|u| u.rect).collect();
    let gutters = find_gutters(units);
    let tol = 0.5 * med_h;
    let across_gutter = |u: &Rect, v: &Rect| {
        gutters.iter().any(|g| {
            u.x1 <= g.x1 + tol && v.x0 >= g.x0 - tol && u.y1 > g.y0 && u.y0 < g.y1 && v.y1 > g.y0 && v.y0 < g.y1
        })
    };
    let mut before = vec![Vec::<usize>::new(); n];
    let mut indeg = vec![0usize; n];
    // The pairwise test is cubic in the worst case; beyond this many units the
    // page is read by the tie-break order alone.
    if n <= 1500 {
        for u in 0..n {
            for v in 0..n {
                if u == v {
                    continue;
                }
                let (a, b) = (&r[u], &r[v]);
                let precedes = if a.x_overlap(b) > 0.0 {
                    a.cy() < b.cy()
                } else if a.x1 <= b.x0 && across_gutter(a, b) {
                    let (ylo, yhi) = (a.y0.min(b.y0), a.y1.max(b.y1));
                    !(0..n).any(|w| {
                        w != u && w != v && r[w].y1 >= ylo && r[w].y0 <= yhi && r[w].x0 < a.x1 && r[w].x1 > b.x0
                    })
                } else if b.x1 <= a.x0 && across_gutter(b, a) {
                    false
                } else {
                    let same_row = a.y_overlap(b) >= 0.3 * (a.y1 - a.y0).min(b.y1 - b.y0);
                    if same_row { a.x0 < b.x0 } else { a.cy() < b.cy() }
                };
                if precedes {
                    before[u].push(v);
                    indeg[v] += 1;
                }
            }
        }
    }
    let key = |i: usize| (r[i].y0, r[i].x0);
    let cmp = |a: &usize, b: &usize| key(*a).partial_cmp(&key(*b)).unwrap_or(std::cmp::Ordering::Equal);
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let pick = (0..n)
            .filter(|&i| !done[i] && indeg[i] == 0)
            .min_by(cmp)
            // A cycle (rare, from overlapping regions): break it at the topmost unit.
            .or_else(|| (0..n).filter(|&i| !done[i]).min_by(cmp))
            .expect("some unit remains");
        done[pick] = true;
        order.push(pick);
        for &v in &before[pick] {
            indeg[v] = indeg[v].saturating_sub(1);
        }
    }
    order
}

/// Rows of lines: sorted by vertical centre, a line joins the row it shares
/// most of its height with.
fn rows_of(lines: &[TextLine], idx: &[usize]) -> Vec<Vec<usize>> {
    let mut sorted: Vec<usize> = idx.to_vec();
    sorted.sort_by(|&a, &b| {
        lines[a].rect.cy().total_cmp(&lines[b].rect.cy()).then(lines[a].rect.x0.total_cmp(&lines[b].rect.x0))
    });
    let mut rows: Vec<(Rect, Vec<usize>)> = Vec::new();
    for i in sorted {
        let l = &lines[i];
        match rows.last_mut() {
            Some((rect, members))
                if l.rect.cy() < rect.y1 && rect.y_overlap(&l.rect) >= 0.5 * l.height.min(rect.y1 - rect.y0) =>
            {
                *rect = rect.union(&l.rect);
                members.push(i);
            }
            _ => rows.push((l.rect, vec![i])),
        }
    }
    rows.into_iter()
        .map(|(_, mut m)| {
            m.sort_by(|&a, &b| lines[a].rect.x0.total_cmp(&lines[b].rect.x0));
            m
        })
        .collect()
}

/// Column intervals of a table: the union of overlapping cell x-ranges.
fn table_columns(lines: &[TextLine], idx: &[usize]) -> Vec<(f32, f32)> {
    let mut spans: Vec<(f32, f32)> = idx.iter().map(|&i| (lines[i].rect.x0, lines[i].rect.x1)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cols: Vec<(f32, f32)> = Vec::new();
    for (x0, x1) in spans {
        match cols.last_mut() {
            Some(c) if x0 < c.1 => c.1 = c.1.max(x1),
            _ => cols.push((x0, x1)),
        }
    }
    cols
}

fn is_list_marker(text: &str) -> bool {
    let t = text.trim_start();
    let mut chars = t.chars();
    let Some(first) = chars.next() else { return false };
    if matches!(first, '•' | '●' | '▪' | '■' | '◦' | '○' | '·' | '‣' | '–' | '-' | '*' | '►' | '✓')
    {
        return chars.next().is_some_and(char::is_whitespace);
    }
    // "1." "12)" "(3)" "a." "b)"
    let body = t.strip_prefix('(').unwrap_or(t);
    let digits = body.chars().take_while(char::is_ascii_digit).count();
    let rest = if digits > 0 && digits <= 3 {
        &body[digits..]
    } else if body.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
        &body[1..]
    } else {
        return false;
    };
    let mut rc = rest.chars();
    matches!(rc.next(), Some('.' | ')')) && rc.next().is_some_and(char::is_whitespace)
}

fn make_block(
    kind: BlockKind,
    lines: &[TextLine],
    rows: &[Vec<usize>],
    table: Option<Vec<Vec<String>>>,
    p: &LayoutParams,
) -> Block {
    let mut rows: Vec<Vec<TextLine>> = rows.iter().map(|r| r.iter().map(|&i| lines[i].clone()).collect()).collect();
    if p.join_hyphens && matches!(kind, BlockKind::Paragraph | BlockKind::ListItem) {
        join_hyphenated(&mut rows);
    }
    let members: Vec<&TextLine> = rows.iter().flatten().collect();
    let sep = if kind == BlockKind::Table { "\t" } else { " " };
    let text = rows
        .iter()
        .map(|r| r.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join(sep))
        .collect::<Vec<_>>()
        // A heading is one logical line even when it wraps.
        .join(if kind == BlockKind::Heading { " " } else { "\n" });
    let confidence = members.iter().map(|l| l.confidence).sum::<f32>() / members.len().max(1) as f32;
    let out_lines = members
        .iter()
        .map(|l| Line {
            text: l.text.clone(),
            bbox: l.rect.to_bbox(),
            confidence: l.confidence,
            words: l.words.clone(),
        })
        .collect();
    let bbox = members.iter().map(|l| l.rect).reduce(|a, b| a.union(&b)).expect("a block has lines").to_bbox();
    Block { kind, text, bbox, confidence, lines: out_lines, table }
}

/// Whether `word` ends in a line-end hyphen after a letter ("inter-").
fn ends_hyphenated(word: &str) -> bool {
    let mut rev = word.chars().rev();
    matches!(rev.next(), Some('-' | '\u{2010}' | '\u{AD}')) && rev.next().is_some_and(char::is_alphabetic)
}

/// Joins words hyphenated across line ends as `pdftotext` does: when a row
/// ends in a letter and a hyphen and the next row starts with a lowercase
/// letter, the hyphen goes and the continuation moves up to complete the
/// word ("inter-" / "preter is" → "interpreter" / "is"). The joined word
/// keeps the first part's box (that is where the word starts on the page);
/// a line left empty is dropped. An uppercase or digit continuation
/// ("Trace-" / "Monkey", "IEEE-" / "754") keeps its hyphen: it is more
/// likely a real compound than a broken word.
fn join_hyphenated(rows: &mut Vec<Vec<TextLine>>) {
    let mut k = 0;
    while k + 1 < rows.len() {
        let (head, tail) = rows.split_at_mut(k + 1);
        let (Some(prev), Some(next)) = (head[k].last_mut(), tail[0].first_mut()) else {
            k += 1;
            continue;
        };
        let joins = prev.words.last().is_some_and(|w| ends_hyphenated(&w.text))
            && next.words.first().is_some_and(|w| w.text.chars().next().is_some_and(char::is_lowercase));
        if !joins {
            k += 1;
            continue;
        }
        let cont = next.words.remove(0);
        let last = prev.words.last_mut().expect("checked");
        last.text.pop();
        last.text.push_str(&cont.text);
        last.confidence = last.confidence.min(cont.confidence);
        prev.text = prev.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        prev.confidence = prev.confidence.min(cont.confidence);
        if next.words.is_empty() {
            tail[0].remove(0);
            if tail[0].is_empty() {
                rows.remove(k + 1);
                // The row now after may continue the same word ("a-" / "b-" / "c").
                continue;
            }
            k += 1;
            continue;
        }
        next.text = next.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        next.rect.x0 = next.words.iter().map(|w| w.bbox[0] as f32).fold(f32::MAX, f32::min);
        k += 1;
    }
}

/// Turns a run of single lines (already in reading order) into blocks:
/// consecutive rows with several cells become a table, other rows group into
/// paragraphs by the block they came from.
fn flush_lines(lines: &[TextLine], run: &[(usize, usize)], p: &LayoutParams, out: &mut Vec<Block>) {
    // Rows: consecutive lines on the same row.
    let mut rows: Vec<(usize, Vec<usize>)> = Vec::new();
    for &(block, i) in run {
        match rows.last_mut() {
            Some((_, row))
                if same_row(&lines[row[0]], &lines[i])
                    && lines[i].rect.x0 >= lines[*row.last().expect("non-empty")].rect.x0 =>
            {
                row.push(i);
            }
            _ => rows.push((block, vec![i])),
        }
    }
    let mut k = 0;
    while k < rows.len() {
        if rows[k].1.len() >= 2 {
            let end = (k..rows.len()).find(|&j| rows[j].1.len() < 2).unwrap_or(rows.len());
            let grid: Vec<Vec<usize>> = rows[k..end].iter().map(|(_, r)| r.clone()).collect();
            if grid.len() >= 2 {
                out.push(table_block(lines, &grid, p));
            } else {
                out.push(make_block(BlockKind::Paragraph, lines, &grid, None, p));
            }
            k = end;
        } else {
            let block = rows[k].0;
            let end = (k..rows.len()).find(|&j| rows[j].1.len() >= 2 || rows[j].0 != block).unwrap_or(rows.len());
            let para: Vec<Vec<usize>> = rows[k..end].iter().map(|(_, r)| r.clone()).collect();
            out.push(make_block(BlockKind::Paragraph, lines, &para, None, p));
            k = end;
        }
    }
}

fn table_block(lines: &[TextLine], rows: &[Vec<usize>], p: &LayoutParams) -> Block {
    let idx: Vec<usize> = rows.iter().flatten().copied().collect();
    let cols = table_columns(lines, &idx);
    let cells = rows
        .iter()
        .map(|r| {
            let mut cells = vec![String::new(); cols.len()];
            for &i in r {
                let cx = (lines[i].rect.x0 + lines[i].rect.x1) / 2.0;
                let c = cols.iter().position(|&(a, b)| cx >= a && cx <= b).unwrap_or(cols.len() - 1);
                if !cells[c].is_empty() {
                    cells[c].push(' ');
                }
                cells[c].push_str(&lines[i].text);
            }
            cells
        })
        .collect();
    make_block(BlockKind::Table, lines, rows, Some(cells), p)
}

/// Emits a paragraph unit as a heading, list items or a paragraph.
fn paragraph_blocks(lines: &[TextLine], unit: &Unit, med_h: f32, p: &LayoutParams, out: &mut Vec<Block>) {
    let rows = rows_of(lines, &unit.lines);
    let unit_h = median(unit.lines.iter().map(|&i| lines[i].height).collect());
    if rows.len() <= 3 && lines.len() >= 4 && unit_h >= p.heading_ratio * med_h {
        out.push(make_block(BlockKind::Heading, lines, &rows, None, p));
        return;
    }
    // A new list item starts at every line with a marker.
    let marker = |r: &Vec<usize>| is_list_marker(&lines[r[0]].text);
    if rows.first().is_some_and(marker) {
        let mut start = 0;
        for k in 1..=rows.len() {
            if k == rows.len() || marker(&rows[k]) {
                out.push(make_block(BlockKind::ListItem, lines, &rows[start..k], None, p));
                start = k;
            }
        }
        return;
    }
    out.push(make_block(BlockKind::Paragraph, lines, &rows, None, p));
}

/// Lays out recognised lines into blocks in reading order.
pub fn layout(recognized: &[RecognizedLine], params: &LayoutParams) -> Vec<Block> {
    let lines = recognized.iter().map(to_text_line).collect();
    let raw: Vec<TextLine> = if params.segmented { lines } else { split_at_gutters(lines) };
    if raw.is_empty() {
        return Vec::new();
    }
    let lines = merge_fragments(raw, params);
    let med_h = median(lines.iter().map(|l| l.height).collect()).max(1.0);
    let blocks = group_blocks(&lines, params);
    let units = make_units(&lines, &blocks, med_h, params);
    let mut out = Vec::new();
    let mut run: Vec<(usize, usize)> = Vec::new();
    for u in reading_order(&units, med_h) {
        let unit = &units[u];
        if unit.paragraph {
            flush_lines(&lines, &run, params, &mut out);
            run.clear();
            paragraph_blocks(&lines, unit, med_h, params, &mut out);
        } else {
            run.push((unit.block, unit.lines[0]));
        }
    }
    flush_lines(&lines, &run, params, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Quad;
    use crate::recognize::RecognizedWord;

    fn line(x0: f32, y0: f32, x1: f32, y1: f32, text: &str) -> RecognizedLine {
        let quad = Quad::from_rect(x0, y0, x1, y1);
        RecognizedLine {
            quad,
            text: text.into(),
            confidence: 0.9,
            words: vec![RecognizedWord { text: text.into(), quad, confidence: 0.9 }],
        }
    }

    fn texts(blocks: &[Block]) -> Vec<String> {
        blocks.iter().map(|b| b.text.clone()).collect()
    }

    #[test]
    fn two_columns_are_read_column_by_column() {
        let mut lines = vec![line(100.0, 20.0, 1100.0, 80.0, "Title across both")];
        for i in 0..5 {
            let y = 120.0 + i as f32 * 35.0;
            lines.push(line(100.0, y, 580.0, y + 30.0, &format!("left {i}")));
            lines.push(line(620.0, y, 1100.0, y + 30.0, &format!("right {i}")));
        }
        let blocks = layout(&lines, &LayoutParams::default());
        let all = texts(&blocks).join("\n");
        let order: Vec<&str> = all.lines().collect();
        assert_eq!(order[0], "Title across both");
        assert_eq!(&order[1..6], ["left 0", "left 1", "left 2", "left 3", "left 4"]);
        assert_eq!(&order[6..], ["right 0", "right 1", "right 2", "right 3", "right 4"]);
        assert_eq!(blocks[0].kind, BlockKind::Heading);
    }

    #[test]
    fn receipt_rows_are_read_row_by_row_as_a_table() {
        let mut lines = Vec::new();
        for (i, (item, price)) in [("COFFEE", "3.50"), ("BAGEL WITH CREAM", "4.25"), ("TEA", "2.00")].iter().enumerate()
        {
            let y = 100.0 + i as f32 * 30.0;
            lines.push(line(20.0, y, 20.0 + 14.0 * item.len() as f32, y + 26.0, item));
            lines.push(line(400.0, y, 460.0, y + 26.0, price));
        }
        let blocks = layout(&lines, &LayoutParams::default());
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].kind, BlockKind::Table);
        assert_eq!(blocks[0].text, "COFFEE\t3.50\nBAGEL WITH CREAM\t4.25\nTEA\t2.00");
        let table = blocks[0].table.as_ref().unwrap();
        assert_eq!(table[1], ["BAGEL WITH CREAM", "4.25"]);
    }

    #[test]
    fn fragments_of_one_line_are_merged() {
        // A gap of a quarter of the text height is a word space: one line.
        let lines = vec![line(10.0, 10.0, 200.0, 40.0, "Hello"), line(208.0, 11.0, 400.0, 41.0, "world")];
        let blocks = layout(&lines, &LayoutParams::default());
        assert_eq!(texts(&blocks), ["Hello world"]);
        assert_eq!(blocks[0].lines.len(), 1);
        assert_eq!(blocks[0].lines[0].words.len(), 2);
        // A wider gap keeps two lines (it may be a column gutter) but one row.
        let lines = vec![line(10.0, 10.0, 200.0, 40.0, "Name:"), line(300.0, 11.0, 400.0, 41.0, "Ada")];
        assert_eq!(texts(&layout(&lines, &LayoutParams::default())), ["Name: Ada"]);
    }

    #[test]
    fn paragraphs_split_at_large_gaps_and_lists_are_found() {
        let lines = vec![
            line(10.0, 10.0, 500.0, 40.0, "First paragraph line one"),
            line(10.0, 45.0, 300.0, 75.0, "and its end."),
            line(10.0, 140.0, 500.0, 170.0, "• apples are red"),
            line(10.0, 175.0, 500.0, 205.0, "• pears are green"),
        ];
        let blocks = layout(&lines, &LayoutParams::default());
        assert_eq!(texts(&blocks), ["First paragraph line one\nand its end.", "• apples are red", "• pears are green"]);
        assert_eq!(blocks[1].kind, BlockKind::ListItem);
    }

    #[test]
    fn a_line_run_across_a_gutter_is_split() {
        let mut lines = Vec::new();
        for i in 0..4 {
            let y = 100.0 + i as f32 * 32.0;
            if i == 1 {
                // detection joined the two columns' lines into one region
                let quad = Quad::from_rect(100.0, y, 1100.0, y + 30.0);
                let w = |t: &str, x0: f32, x1: f32| RecognizedWord {
                    text: t.into(),
                    quad: Quad::from_rect(x0, y, x1, y + 30.0),
                    confidence: 0.9,
                };
                lines.push(RecognizedLine {
                    quad,
                    text: "left one right one".into(),
                    confidence: 0.9,
                    words: vec![
                        w("left", 100.0, 300.0),
                        w("one", 310.0, 575.0),
                        w("right", 625.0, 900.0),
                        w("one", 910.0, 1100.0),
                    ],
                });
            } else {
                lines.push(line(100.0, y, 580.0, y + 30.0, &format!("left {i}")));
                lines.push(line(620.0, y, 1100.0, y + 30.0, &format!("right {i}")));
            }
        }
        let all = texts(&layout(&lines, &LayoutParams::default())).join("\n");
        assert_eq!(all, "left 0\nleft one\nleft 2\nleft 3\nright 0\nright one\nright 2\nright 3");
    }

    #[test]
    fn hyphenated_line_ends_join_only_when_asked() {
        let words = |y: f32, ws: &[(&str, f32, f32)]| {
            let w: Vec<RecognizedWord> = ws
                .iter()
                .map(|&(t, x0, x1)| RecognizedWord {
                    text: t.into(),
                    quad: Quad::from_rect(x0, y, x1, y + 30.0),
                    confidence: 1.0,
                })
                .collect();
            let text = ws.iter().map(|w| w.0).collect::<Vec<_>>().join(" ");
            RecognizedLine {
                quad: Quad::from_rect(ws[0].1, y, ws[ws.len() - 1].2, y + 30.0),
                text,
                confidence: 1.0,
                words: w,
            }
        };
        let lines = vec![
            words(10.0, &[("the", 10.0, 60.0), ("inter-", 70.0, 500.0)]),
            words(45.0, &[("preter", 10.0, 100.0), ("runs", 110.0, 500.0)]),
            words(80.0, &[("on", 10.0, 50.0), ("Trace-", 60.0, 500.0)]),
            words(115.0, &[("Monkey", 10.0, 200.0), ("fast-", 210.0, 500.0)]),
            words(150.0, &[("er.", 10.0, 60.0)]),
        ];
        let kept = layout(&lines, &LayoutParams::default());
        assert_eq!(texts(&kept), ["the inter-\npreter runs\non Trace-\nMonkey fast-\ner."]);
        let joined = layout(&lines, &LayoutParams { join_hyphens: true, ..LayoutParams::default() });
        assert_eq!(texts(&joined), ["the interpreter\nruns\non Trace-\nMonkey faster."]);
        // Words, lines and block text agree; the continuation's line shrinks
        // to its remaining words and an emptied line disappears.
        let b = &joined[0];
        assert_eq!(b.lines.len(), 4);
        for l in &b.lines {
            assert_eq!(l.text, l.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "));
        }
        assert_eq!(b.lines[0].words[1].text, "interpreter");
        assert_eq!(b.lines[1].bbox[0], 110);
    }

    #[test]
    fn list_markers() {
        for (t, want) in [
            ("• x", true),
            ("1. Intro", true),
            ("(2) b", true),
            ("a) c", true),
            ("1.5 m", false),
            ("Apple", false),
            ("-5", false),
        ] {
            assert_eq!(is_list_marker(t), want, "{t}");
        }
    }
}
