//! Page text cut into the units answers are made of — lines and sentences —
//! as byte ranges of the page, so whatever is quoted is the page's own text.

use std::ops::Range;

/// A line of a page: `page_text[range]`, trimmed, never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 0-based page index.
    pub page: usize,
    /// 0-based line index on the page (counting only non-empty lines).
    pub index: usize,
    /// Byte range in the page text.
    pub range: Range<usize>,
}

/// The non-empty lines of every page, in reading order.
pub fn lines(pages: &[String]) -> Vec<Line> {
    let mut out = Vec::new();
    for (page, text) in pages.iter().enumerate() {
        let mut index = 0;
        let mut start = 0;
        for piece in text.split_inclusive('\n') {
            let end = start + piece.len();
            let raw = &text[start..end];
            let lead = raw.len() - raw.trim_start().len();
            let body = raw.trim();
            if !body.is_empty() {
                out.push(Line { page, index, range: start + lead..start + lead + body.len() });
                index += 1;
            }
            start = end;
        }
    }
    out
}

/// A sentence of a page (may span line breaks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sentence {
    /// 0-based page index.
    pub page: usize,
    /// Byte range in the page text, trimmed.
    pub range: Range<usize>,
}

/// Sentences longer than this are cut at a line end: an answer quotes a
/// sentence, not a paragraph that lost its full stops to OCR.
const MAX_SENTENCE_BYTES: usize = 400;

/// Every page cut into sentences: at `.`/`!`/`?` (also `。！？`) followed by
/// whitespace, and at blank lines.
pub fn sentences(pages: &[String]) -> Vec<Sentence> {
    let mut out = Vec::new();
    for (page, text) in pages.iter().enumerate() {
        let mut start = 0;
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (at, c) = chars[i];
            let next = chars.get(i + 1).map(|&(_, c)| c);
            let end_here = match c {
                '.' | '!' | '?' => next.is_none_or(char::is_whitespace) && !abbreviation(&text[start..at]),
                '。' | '！' | '？' => true,
                '\n' => blank_line_follows(&text[at + 1..]),
                _ => false,
            };
            if end_here || at + c.len_utf8() - start >= MAX_SENTENCE_BYTES && c == '\n' {
                push_trimmed(&mut out, page, text, start..at + c.len_utf8());
                start = at + c.len_utf8();
            }
            i += 1;
        }
        push_trimmed(&mut out, page, text, start..text.len());
    }
    out
}

fn push_trimmed(out: &mut Vec<Sentence>, page: usize, text: &str, r: Range<usize>) {
    let raw = &text[r.clone()];
    let lead = raw.len() - raw.trim_start().len();
    let body = raw.trim();
    if body.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
        out.push(Sentence { page, range: r.start + lead..r.start + lead + body.len() });
    }
}

/// Whether `rest` (the text after a line break) starts with a blank line.
fn blank_line_follows(rest: &str) -> bool {
    rest.find('\n').is_some_and(|j| rest[..j].trim().is_empty())
}

/// "e.g." / "Fig." / "Dr." / an initial: a full stop that ends no sentence.
fn abbreviation(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let lower = word.to_lowercase();
    word.chars().count() == 1 && word.chars().all(char::is_uppercase)
        || ["e.g", "i.e", "etc", "fig", "figs", "dr", "mr", "mrs", "ms", "no", "vs", "cf", "al", "sec", "eq"]
            .contains(&lower.as_str())
}

/// Lower-cased alphanumeric words of `s` (no stemming, no stopwords).
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_ranges() {
        let pages = vec!["  TOTAL: 9.00 \n\nCASH 10.00\n".to_string(), "".to_string(), "x".to_string()];
        let l = lines(&pages);
        let got: Vec<(usize, usize, &str)> =
            l.iter().map(|l| (l.page, l.index, &pages[l.page][l.range.clone()])).collect();
        assert_eq!(got, vec![(0, 0, "TOTAL: 9.00"), (0, 1, "CASH 10.00"), (2, 0, "x")]);
    }

    #[test]
    fn sentences_split_at_stops_and_blank_lines() {
        let pages = vec![
            "We call the resulting VM TraceMonkey. It is fast, e.g. on loops!\nNext line\ncontinues here.\n\nHeading\n\nFig. 2 shows it."
                .to_string(),
        ];
        let s: Vec<&str> = sentences(&pages).iter().map(|s| &pages[0][s.range.clone()]).collect();
        assert_eq!(
            s,
            vec![
                "We call the resulting VM TraceMonkey.",
                "It is fast, e.g. on loops!",
                "Next line\ncontinues here.",
                "Heading",
                "Fig. 2 shows it."
            ]
        );
    }
}
