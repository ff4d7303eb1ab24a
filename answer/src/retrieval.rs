//! Picks the passages of a long document that a chat question is about, so
//! the request fits the model's context: page texts are cut into chunks at
//! paragraph and line boundaries and ranked with Okapi BM25 over a simple
//! Unicode tokenizer (words; single characters and bigrams for CJK scripts).
//! Pure Rust, no index to store: a job's text is at most a few hundred pages.

use std::collections::HashMap;
use std::ops::Range;

/// Target chunk size in bytes: a few paragraphs, small enough that the
/// budget holds many, large enough to keep a sentence with its context.
const CHUNK_BYTES: usize = 700;
/// BM25 term-frequency saturation and length normalisation (the usual values).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// A passage of one page: `pages[page][range]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// 0-based page index.
    pub page: usize,
    /// Byte range in that page's text.
    pub range: Range<usize>,
}

/// Words that carry no topic in questions (English; BM25's IDF handles the
/// rest, but with a handful of chunks "what" and "the" would still count).
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "any", "are", "as", "at", "be", "by", "can", "did", "do", "does", "document", "for",
    "from", "has", "have", "how", "i", "in", "is", "it", "its", "me", "much", "my", "of", "on", "or", "page", "say",
    "says", "tell", "that", "the", "their", "there", "this", "to", "was", "were", "what", "when", "where", "which",
    "who", "whom", "why", "with", "you", "your",
];

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// Lower-cased terms: alphanumeric runs (a light plural strip so "invoices"
/// finds "invoice"), and for CJK every character and adjacent pair.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut word = String::new();
    let mut cjk_prev: Option<char> = None;
    let flush = |word: &mut String, terms: &mut Vec<String>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            if !STOPWORDS.contains(&w.as_str()) {
                let stem = match w.strip_suffix('s') {
                    Some(s) if s.chars().count() >= 3 && !s.ends_with('s') => s.to_string(),
                    _ => w,
                };
                terms.push(stem);
            }
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush(&mut word, &mut terms);
            terms.push(c.to_string());
            if let Some(p) = cjk_prev {
                terms.push(format!("{p}{c}"));
            }
            cjk_prev = Some(c);
        } else if c.is_alphanumeric() {
            cjk_prev = None;
            word.extend(c.to_lowercase());
        } else {
            cjk_prev = None;
            flush(&mut word, &mut terms);
        }
    }
    flush(&mut word, &mut terms);
    terms
}

/// Cuts a page into chunks of about [`CHUNK_BYTES`], at blank lines when it
/// can, else at line ends, else at spaces; ranges cover the text in order
/// (whitespace between chunks excluded).
pub fn chunk_page(text: &str) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let len = text.len();
    while start < len {
        // Skip whitespace between chunks.
        let skip = text[start..].len() - text[start..].trim_start().len();
        start += skip;
        if start >= len {
            break;
        }
        let mut end = if len - start <= CHUNK_BYTES {
            len
        } else {
            let limit = floor_char_boundary(text, start + CHUNK_BYTES);
            let window = &text[start..limit];
            // The latest good cut in the second half of the window, best kind first.
            let half = window.len() / 2;
            let cut = ["\n\n", "\n", ". ", " "]
                .iter()
                .find_map(|sep| window.rfind(sep).filter(|&i| i >= half).map(|i| i + sep.len()))
                .unwrap_or(window.len());
            start + cut
        };
        if end <= start {
            end = floor_char_boundary(text, (start + CHUNK_BYTES).min(len)).max(start + 1);
            while !text.is_char_boundary(end) {
                end += 1;
            }
        }
        let piece = text[start..end].trim_end();
        if !piece.is_empty() {
            chunks.push(start..start + piece.len());
        }
        start = end;
    }
    chunks
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The passages to send for `query`, within `budget` bytes of page text, in
/// document order. The whole document when it fits; otherwise the best BM25
/// chunks (or, when no chunk shares a term with the query — "summarise this"
/// — the beginning of the document). Adjacent chunks are merged.
pub fn select(pages: &[String], query: &str, budget: usize) -> Vec<Excerpt> {
    let total: usize = pages.iter().map(|p| p.trim().len()).sum();
    if total <= budget {
        return pages
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.trim().is_empty())
            .map(|(i, p)| {
                let start = p.len() - p.trim_start().len();
                Excerpt { page: i, range: start..start + p.trim().len() }
            })
            .collect();
    }
    let chunks: Vec<Excerpt> = pages
        .iter()
        .enumerate()
        .flat_map(|(i, p)| chunk_page(p).into_iter().map(move |range| Excerpt { page: i, range }))
        .collect();
    let scores = bm25(pages, &chunks, query);
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    // Best first; ties in document order (stable sort) so selection is deterministic.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let any_match = order.first().is_some_and(|&i| scores[i] > 0.0);
    if !any_match {
        order.sort_unstable();
    }
    let mut used = 0;
    let mut chosen = Vec::new();
    for i in order {
        if any_match && scores[i] <= 0.0 {
            break;
        }
        let size = chunks[i].range.len();
        if used + size > budget {
            continue;
        }
        used += size;
        chosen.push(i);
    }
    chosen.sort_unstable();
    let mut out: Vec<Excerpt> = Vec::new();
    for i in chosen {
        let c = &chunks[i];
        if let Some(last) = out.last_mut()
            && last.page == c.page
            && pages[c.page][last.range.end..c.range.start].trim().is_empty()
        {
            last.range.end = c.range.end;
            continue;
        }
        out.push(c.clone());
    }
    out
}

/// Okapi BM25 score of each chunk for `query`.
fn bm25(pages: &[String], chunks: &[Excerpt], query: &str) -> Vec<f64> {
    let docs: Vec<HashMap<String, usize>> = chunks
        .iter()
        .map(|c| {
            let mut tf = HashMap::new();
            for t in tokenize(&pages[c.page][c.range.clone()]) {
                *tf.entry(t).or_insert(0) += 1;
            }
            tf
        })
        .collect();
    let lens: Vec<f64> = docs.iter().map(|d| d.values().sum::<usize>() as f64).collect();
    let n = docs.len() as f64;
    let avg = (lens.iter().sum::<f64>() / n.max(1.0)).max(1.0);
    let mut terms = tokenize(query);
    terms.sort_unstable();
    terms.dedup();
    let mut scores = vec![0.0; docs.len()];
    for t in &terms {
        let df = docs.iter().filter(|d| d.contains_key(t)).count() as f64;
        if df == 0.0 {
            continue;
        }
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        for (i, d) in docs.iter().enumerate() {
            if let Some(&tf) = d.get(t) {
                let tf = tf as f64;
                scores[i] += idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * lens[i] / avg));
            }
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("What is the Invoice total?", &["invoice", "total"]),
            // Same stem on both sides is all BM25 needs, pretty or not.
            ("invoices, glasses; glass bus", &["invoice", "glasse", "glass", "bus"]),
            ("Straße 12-B", &["straße", "12", "b"]),
            ("合計金額", &["合", "計", "合計", "金", "計金", "額", "金額"]),
            ("", &[]),
        ];
        for &(text, want) in cases {
            assert_eq!(tokenize(text), want, "{text:?}");
        }
    }

    #[test]
    fn chunks_cover_the_page_at_natural_cuts() {
        let para = "word ".repeat(60); // 300 bytes
        let page = format!("{para}\n\n{para}\n\n{para}\n\n{}", "x".repeat(2000));
        let chunks = chunk_page(&page);
        for c in &chunks {
            assert!(c.len() <= CHUNK_BYTES, "{c:?}");
            assert_eq!(&page[c.clone()], page[c.clone()].trim(), "chunks are trimmed");
        }
        assert_eq!(&page[chunks[0].clone()], format!("{para}\n\n{para}").trim(), "cut at the blank line");
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        let covered: String = chunks.iter().map(|c| squeeze(&page[c.clone()])).collect();
        assert_eq!(covered, squeeze(&page), "nothing lost or duplicated");
        // Multi-byte text never splits a character.
        let cjk = "合計金額".repeat(300);
        let chunks = chunk_page(&cjk);
        assert_eq!(chunks.iter().map(|c| cjk[c.clone()].to_string()).collect::<String>(), cjk);
        assert!(chunk_page("  \n ").is_empty());
    }

    #[test]
    fn selection_fits_the_budget_and_finds_the_passage() {
        let filler = |k: usize| {
            (0..40).map(|i| format!("Filler sentence {k}-{i} about nothing much.")).collect::<Vec<_>>().join("\n")
        };
        let pages = vec![
            filler(1),
            format!("{}\n\nThe invoice total is 215.00 USD, due on March 3.\n\n{}", filler(2), filler(3)),
            filler(4),
        ];
        // Small documents go whole.
        let all = select(&pages, "total", 1 << 20);
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|e| e.range.len() == pages[e.page].trim().len()));
        // Over budget: the chunk with the answer, nothing beyond the budget.
        for budget in [800, 1500, 3000] {
            let got = select(&pages, "What is the invoice total?", budget);
            let used: usize = got.iter().map(|e| e.range.len()).sum();
            assert!(used <= budget, "{used} > {budget}");
            let text: String = got.iter().map(|e| &pages[e.page][e.range.clone()]).collect();
            assert!(text.contains("The invoice total is 215.00 USD"), "budget {budget}: {got:?}");
            assert_eq!(got[0].page, 1);
        }
        // No shared term: the beginning of the document, in order.
        let got = select(&pages, "zzz qqq", 1000);
        assert_eq!(got[0].page, 0);
        assert_eq!(got[0].range.start, 0);
        assert_eq!(select(&pages, "anything", 0), vec![]);
        assert_eq!(select(&["".to_string(), " ".to_string()], "x", 10), vec![]);
    }
}
