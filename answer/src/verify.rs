//! Server-side check of the model's quotes: a citation survives only if its
//! quote occurs in the cited page's text. Matching forgives what models
//! change when copying — runs of whitespace and line breaks, letter case,
//! typographic quotes and dashes, a leading/trailing ellipsis — but what is
//! returned is always the exact substring of the page text, so the API's
//! "snippet occurs verbatim" promise holds byte for byte.

use std::ops::Range;

use crate::Citation;

/// A quote needs this many normalised characters to count: "a" or "42"
/// occur almost anywhere and prove nothing.
const MIN_QUOTE_CHARS: usize = 4;

/// A text in matching form, with where each normalised char came from.
struct Normalized {
    text: String,
    /// Byte offset in `text` of each normalised char.
    starts: Vec<usize>,
    /// Byte range in the original of each normalised char.
    spans: Vec<Range<usize>>,
}

/// The matching form of one char (`None`: dropped).
fn fold(c: char) -> Option<char> {
    Some(match c {
        '\u{00AD}' | '\u{200B}' | '\u{FEFF}' => return None, // soft hyphen, zero-width space, BOM
        c if c.is_whitespace() => ' ',
        '‘' | '’' | '‚' | '‛' | '′' | '`' | '´' => '\'',
        '“' | '”' | '„' | '‟' | '″' | '«' | '»' => '"',
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => '-',
        c => {
            // Only case mappings that stay one char, so spans stay exact.
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        }
    })
}

fn normalize(s: &str) -> Normalized {
    let mut n = Normalized { text: String::with_capacity(s.len()), starts: Vec::new(), spans: Vec::new() };
    for (i, c) in s.char_indices() {
        let Some(f) = fold(c) else { continue };
        let span = i..i + c.len_utf8();
        if f == ' ' {
            // Collapse runs: extend the previous space over this one.
            if n.text.ends_with(' ') {
                if let Some(last) = n.spans.last_mut() {
                    last.end = span.end;
                }
                continue;
            }
        }
        n.starts.push(n.text.len());
        n.spans.push(span);
        n.text.push(f);
    }
    n
}

/// The quote as models write it, stripped of decoration: surrounding quote
/// marks and a leading/trailing ellipsis.
fn clean_quote(q: &str) -> &str {
    let mut q = q.trim();
    loop {
        let before = q;
        for affix in ["...", "…", "\"", "'", "“", "”", "‘", "’", "«", "»"] {
            q = q.strip_prefix(affix).unwrap_or(q).trim();
            q = q.strip_suffix(affix).unwrap_or(q).trim();
        }
        if q == before {
            return q;
        }
    }
}

/// Where `quote` occurs in `page` (byte range of the exact original text).
pub fn locate(page: &str, quote: &str) -> Option<Range<usize>> {
    let q = normalize(clean_quote(quote));
    let needle = q.text.trim();
    if needle.chars().filter(|c| !c.is_whitespace()).count() < MIN_QUOTE_CHARS
        || !needle.chars().any(char::is_alphanumeric)
    {
        return None;
    }
    let hay = normalize(page);
    let at = hay.text.find(needle)?;
    let first = hay.starts.partition_point(|&s| s < at);
    let last = first + needle.chars().count() - 1;
    Some(hay.spans[first].start..hay.spans[last].end)
}

/// The verbatim snippets for one model quote: the quote whole if it occurs,
/// else its parts when the model elided with "…"/"..." (each part must
/// occur). Empty when nothing verifies.
pub fn verify_quote(page: &str, quote: &str) -> Vec<String> {
    if let Some(r) = locate(page, quote) {
        return vec![page[r].to_string()];
    }
    let parts: Vec<&str> =
        quote.split(['…']).flat_map(|p| p.split("...")).map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return Vec::new();
    }
    parts.iter().filter_map(|p| locate(page, p)).map(|r| page[r].to_string()).collect()
}

/// What survives of a model's quotes: [`ground`]'s result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grounded {
    /// Verified citations, each the exact text of its page, no duplicates.
    pub citations: Vec<Citation>,
    /// (cited page, page the quote was found on) for quotes re-attributed.
    pub moved: Vec<(u32, u32)>,
    /// Indexes of the quotes found on no page (dropped).
    pub dropped: Vec<usize>,
}

/// Keeps the quotes (`(cited 1-based page, quote)`) that occur in a page.
/// The cited page is tried first; a quote found on another page is
/// re-attributed to that page (models miscount pages; the snippet, not the
/// number, is the evidence).
pub fn ground(pages: &[String], quotes: &[(Option<u32>, String)]) -> Grounded {
    let mut out = Grounded::default();
    for (i, (page, quote)) in quotes.iter().enumerate() {
        let cited = page.and_then(|p| p.checked_sub(1)).map(|p| p as usize).filter(|&p| p < pages.len());
        let order = cited.into_iter().chain((0..pages.len()).filter(|&p| Some(p) != cited));
        let mut found = false;
        for p in order {
            let snippets = verify_quote(&pages[p], quote);
            if snippets.is_empty() {
                continue;
            }
            if let Some(from) = cited.filter(|&c| c != p) {
                out.moved.push((from as u32 + 1, p as u32 + 1));
            }
            for snippet in snippets {
                let c = Citation { page: p as u32 + 1, snippet };
                if !out.citations.contains(&c) {
                    out.citations.push(c);
                }
            }
            found = true;
            break;
        }
        if !found {
            out.dropped.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str =
        "INVOICE  No. 17\nAcme Corp — “Best” tools\n\nThe invoice total is\n$42.00, due on March 3.\nThank you!";

    #[test]
    fn quotes_match_forgivingly_and_return_exact_text() {
        let cases: &[(&str, Option<&str>)] = &[
            ("The invoice total is $42.00", Some("The invoice total is\n$42.00")),
            ("the invoice   total is\n$42.00, due", Some("The invoice total is\n$42.00, due")),
            ("Acme Corp - \"Best\" tools", Some("Acme Corp — “Best” tools")),
            ("\"due on March 3.\"", Some("due on March 3.")),
            ("...due on March 3…", Some("due on March 3")),
            ("INVOICE No. 17", Some("INVOICE  No. 17")),
            ("invoice no. 17", Some("INVOICE  No. 17")),
            ("The invoice total is $43.00", None),
            ("due on March 4", None),
            ("", None),
            ("...", None),
            ("is", None),   // too short to prove anything
            ("-- —", None), // no alphanumeric
            ("Thank you!", Some("Thank you!")),
        ];
        for &(quote, want) in cases {
            let got = locate(PAGE, quote).map(|r| &PAGE[r]);
            assert_eq!(got, want, "quote {quote:?}");
            if let Some(s) = got {
                assert!(PAGE.contains(s), "verbatim");
            }
        }
    }

    #[test]
    fn normalization_keeps_spans_exact() {
        let cases = ["a\u{00AD}b  c", "ÄÖÜ straße İstanbul", "x\r\n\ty", "  lead", "trail  ", "中文 テキスト"];
        for s in cases {
            let n = normalize(s);
            assert_eq!(n.starts.len(), n.spans.len());
            assert_eq!(n.text.chars().count(), n.spans.len(), "{s:?}");
            for r in &n.spans {
                assert!(s.is_char_boundary(r.start) && s.is_char_boundary(r.end), "{s:?} {r:?}");
            }
        }
        // 'İ' lower-cases to two chars: kept as is, so "İstanbul" still matches itself.
        assert_eq!(locate("in İstanbul today", "İstanbul").map(|r| r.len()), Some("İstanbul".len()));
        assert_eq!(locate("x\u{00AD}ray results", "xray results"), Some(0.."x\u{00AD}ray results".len()));
    }

    #[test]
    fn grounding_keeps_found_quotes_and_moves_miscounted_pages() {
        let pages = vec!["Cover page".to_string(), PAGE.to_string()];
        let quotes = vec![
            (Some(1), "the invoice total is $42.00".to_string()), // on page 2, not 1
            (Some(2), "Acme Corp".to_string()),
            (None, "invented clause".to_string()),
            (Some(2), "acme corp".to_string()), // same snippet again
        ];
        let g = ground(&pages, &quotes);
        let got: Vec<(u32, &str)> = g.citations.iter().map(|c| (c.page, c.snippet.as_str())).collect();
        assert_eq!(got, [(2, "The invoice total is\n$42.00"), (2, "Acme Corp")]);
        assert_eq!(g.moved, [(1, 2)]);
        assert_eq!(g.dropped, [2]);
    }

    #[test]
    fn elided_quotes_verify_part_by_part() {
        let cases: &[(&str, &[&str])] = &[
            ("The invoice total is $42.00 … Thank you!", &["The invoice total is\n$42.00", "Thank you!"]),
            ("INVOICE No. 17 ... invented clause", &["INVOICE  No. 17"]),
            ("invented … also invented", &[]),
            ("The invoice total is $42.00, due", &["The invoice total is\n$42.00, due"]),
        ];
        for &(quote, want) in cases {
            assert_eq!(verify_quote(PAGE, quote), want, "{quote:?}");
        }
    }
}
