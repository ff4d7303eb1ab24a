//! The built-in answerer: extractive and grounded by construction.
//!
//! Each intent of the question ([`crate::intent`]) has a finder that looks
//! at the page lines or sentences and returns the value that answers it as
//! a byte range of a page, with the line(s) it came from as the citation:
//!
//! - total: the largest amount labelled as a total ("TOTAL", "ROUNDED
//!   TOTAL", "TOTAL INCL. GST"; subtotals, tax and quantity lines only when
//!   nothing else is labelled), on the label's line or the value line below;
//! - date: the first date, preferring one labelled "date" and requiring the
//!   question's qualifier ("due") in its label when it has one;
//! - company: the first header line with a company form (SDN BHD, Ltd,
//!   GmbH, Corporation …), else, on a receipt, its first text line;
//! - address: the header lines with street words and postcodes;
//! - e-mail / phone: the first one, labelled for the party asked about;
//! - a field: the `label: value` line whose label has the question's words;
//! - a fact / a name: the sentence covering most of the question's rare
//!   terms (for a name, a sentence that names something: "we call … X").
//!
//! The answer quotes the value and the page; every citation is checked
//! with [`crate::verify`] (the rule the LLM path uses) before it is returned.
//! Nothing found for any intent → [`NOT_IN_DOCUMENT`](crate::NOT_IN_DOCUMENT).

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use crate::intent::{self, GENERIC, Intent, Kind};
use crate::retrieval::tokenize;
use crate::text::{self, Line, Sentence, words};
use crate::values;
use crate::verify;
use crate::{ChatAnswer, ChatRole, ChatTurn, Citation, MAX_QUESTION_CHARS};

/// One answered intent: the value and the passage citing it, on one page.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Found {
    page: usize,
    value: Range<usize>,
    cite: Range<usize>,
}

/// The document as the finders see it.
struct Doc<'a> {
    pages: &'a [String],
    lines: Vec<Line>,
}

impl Doc<'_> {
    fn text(&self, l: &Line) -> &str {
        &self.pages[l.page][l.range.clone()]
    }

    /// The line after `i` on the same page.
    fn next(&self, i: usize) -> Option<&Line> {
        self.lines.get(i + 1).filter(|n| n.page == self.lines[i].page)
    }

    fn prev(&self, i: usize) -> Option<&Line> {
        i.checked_sub(1).and_then(|p| self.lines.get(p)).filter(|p| p.page == self.lines[i].page)
    }

    /// A line `i`'s range joined with its neighbour `j` (same page, j > i).
    fn span(&self, i: usize, j: usize) -> Range<usize> {
        self.lines[i].range.start..self.lines[j].range.end
    }
}

/// Answers `question` from `pages` (index 0 = page 1). `history` (oldest
/// first) lets a short follow-up ("and the date?" works by itself; "and
/// there?") borrow the previous question's terms.
pub fn answer(pages: &[String], history: &[ChatTurn], question: &str) -> ChatAnswer {
    let question = question.trim();
    let question = question.char_indices().nth(MAX_QUESTION_CHARS).map_or(question, |(i, _)| &question[..i]);
    if pages.iter().all(|p| p.trim().is_empty()) || question.is_empty() {
        return ChatAnswer::not_in_document();
    }
    let doc = Doc { pages, lines: text::lines(pages) };
    let mut intents = intent::parse(question);
    if let [only] = intents.as_mut_slice()
        && only.kind == Kind::Fact
        && only.terms.len() <= 1
        && let Some(prev) = history.iter().rev().find(|t| t.role == ChatRole::User)
    {
        // A follow-up without a subject of its own: the conversation's.
        let earlier = intent::parse(&prev.content);
        only.terms.extend(earlier.into_iter().flat_map(|i| i.terms));
    }
    let mut parts: Vec<Found> = Vec::new();
    for intent in &intents {
        if let Some(f) = find(&doc, intent)
            && !parts.contains(&f)
        {
            parts.push(f);
        }
    }
    compose(pages, &parts)
}

/// The reply: each value with its page, each citation verified on its page.
fn compose(pages: &[String], parts: &[Found]) -> ChatAnswer {
    let mut content = Vec::new();
    let mut citations: Vec<Citation> = Vec::new();
    for f in parts {
        let page = &pages[f.page];
        let snippet = &page[f.cite.clone()];
        // The same rule as for a model's quotes: the snippet must be found on
        // the page it cites (by construction it is; this keeps it so).
        if verify::locate(page, snippet).is_none() && snippet.chars().filter(|c| c.is_alphanumeric()).count() >= 4 {
            continue;
        }
        let value = squeeze(&page[f.value.clone()]);
        content.push(format!("{value} (p. {})", f.page + 1));
        let c = Citation { page: f.page as u32 + 1, snippet: snippet.to_string() };
        if !citations.contains(&c) {
            citations.push(c);
        }
    }
    if content.is_empty() {
        return ChatAnswer::not_in_document();
    }
    ChatAnswer { content: content.join("; "), citations }
}

/// Line breaks inside a quoted value shown on one line.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn find(doc: &Doc, intent: &Intent) -> Option<Found> {
    match intent.kind {
        Kind::Total => total(doc),
        Kind::Date => date(doc, &intent.qualifiers),
        Kind::Company => company(doc),
        Kind::Address => address(doc),
        Kind::Email => party_value(doc, values::emails, &intent.qualifiers, &["email", "e-mail", "mail"]),
        Kind::Phone => party_value(doc, values::phones, &intent.qualifiers, &["tel", "phone", "fax", "mobile", "hp"]),
        Kind::Name => name(doc, &intent.terms).or_else(|| field(doc, intent)).or_else(|| fact(doc, &intent.terms)),
        Kind::Fact => field(doc, intent).or_else(|| fact(doc, &intent.terms)),
    }
}

// ---------------------------------------------------------------- totals

/// Label words of a grand total, in several languages.
const TOTAL_WORDS: &[&str] =
    &["total", "totals", "summe", "gesamt", "gesamtbetrag", "montant", "totale", "importe", "jumlah"];
/// Label words that make a "total" line something else.
const WEAK_TOTAL: &[&str] = &[
    "sub",
    "subtotal",
    "qty",
    "quantity",
    "item",
    "items",
    "saving",
    "savings",
    "disc",
    "discount",
    "excl",
    "excluding",
    "exclusive",
    "before",
    "points",
    "point",
    "tax",
    "gst",
    "vat",
    "rounding",
    "change",
    "cash",
    "tendered",
];

/// Words before the amount on a label line: more is prose, not a label.
const MAX_LABEL_WORDS: usize = 8;

fn total(doc: &Doc) -> Option<Found> {
    // (weak, value, found)
    let mut cands: Vec<(bool, f64, Found)> = Vec::new();
    for (i, l) in doc.lines.iter().enumerate() {
        let t = doc.text(l);
        let w = words(t);
        let labelled = w.iter().any(|x| TOTAL_WORDS.contains(&x.as_str()) || x.starts_with("subtotal"))
            || t.to_lowercase().contains("amount due")
            || t.to_lowercase().contains("balance due")
            || t.to_lowercase().contains("to pay");
        if !labelled {
            continue;
        }
        let label_end = values::amounts(t).first().map_or(t.len(), |(r, _)| r.start);
        let label = words(&t[..label_end]);
        if label.len() > MAX_LABEL_WORDS || label.is_empty() {
            continue;
        }
        let incl = label.iter().any(|x| x.starts_with("incl"));
        let weak = label.iter().any(|x| {
            WEAK_TOTAL.contains(&x.as_str()) && !(incl && matches!(x.as_str(), "tax" | "gst" | "vat"))
                || x.starts_with("subtotal")
        });
        let mut push = |line_idx: usize, r: Range<usize>, v: f64, cite: Range<usize>| {
            let page = doc.lines[line_idx].page;
            cands.push((weak, v, Found { page, value: r, cite }));
        };
        let on_line: Vec<(Range<usize>, f64)> = values::amounts(t);
        if !on_line.is_empty() {
            for (r, v) in on_line {
                push(i, l.range.start + r.start..l.range.start + r.end, v, l.range.clone());
            }
        } else if let Some(n) = doc.next(i).filter(|n| value_only(doc.text(n))) {
            for (r, v) in values::amounts(doc.text(n)) {
                push(i, n.range.start + r.start..n.range.start + r.end, v, doc.span(i, i + 1));
            }
        }
    }
    let best_of = |weak: bool| {
        cands
            .iter()
            .filter(|c| c.0 == weak && c.1 > 0.0)
            // Largest amount; the first of equal ones.
            .fold(None::<&(bool, f64, Found)>, |best, c| match best {
                Some(b) if b.1 >= c.1 => Some(b),
                _ => Some(c),
            })
            .map(|c| c.2.clone())
    };
    best_of(false).or_else(|| best_of(true))
}

/// A line that is only a value: an amount with at most a currency word.
fn value_only(t: &str) -> bool {
    let a = values::amounts(t);
    a.len() == 1 && words(t).len() <= 3 && t.chars().filter(|c| c.is_alphabetic()).count() <= 3
}

// ----------------------------------------------------------------- dates

const DATE_LABELS: &[&str] = &["date", "dated", "datum", "tarikh", "fecha"];

fn date(doc: &Doc, qualifiers: &[String]) -> Option<Found> {
    let mut best: Option<(i32, Found)> = None;
    for (i, l) in doc.lines.iter().enumerate() {
        let t = doc.text(l);
        for r in values::dates(t) {
            let own = words(&t[..r.start]);
            let before = doc.prev(i).map(|p| words(doc.text(p))).unwrap_or_default();
            let label_has = |w: &[&str]| own.iter().chain(before.iter()).any(|x| w.contains(&x.as_str()));
            if !qualifiers.iter().all(|q| label_has(&[q.as_str()])) {
                continue;
            }
            let labelled = own.iter().any(|x| DATE_LABELS.contains(&x.as_str()))
                || before.last().is_some_and(|x| DATE_LABELS.contains(&x.as_str()));
            let score = i32::from(labelled);
            let cite = if own.is_empty() && labelled { doc.span(i - 1, i) } else { l.range.clone() };
            let f = Found { page: l.page, value: l.range.start + r.start..l.range.start + r.end, cite };
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((score, f));
            }
        }
    }
    best.map(|(_, f)| f)
}

// ------------------------------------------------------ company, address

/// Legal forms that mark a line as a company name.
const COMPANY_FORMS: &[&str] = &[
    "sdn",
    "bhd",
    "berhad",
    "ltd",
    "limited",
    "llc",
    "llp",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "gmbh",
    "plc",
    "pty",
    "pte",
    "pvt",
    "enterprise",
    "enterprises",
    "trading",
    "holdings",
    "industries",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "oy",
    "kk",
    "ohg",
    "mbh",
];
/// Forms that are also ordinary words, counted only as a line's last word.
const COMPANY_FORMS_LAST: &[&str] = &["co", "company", "ag", "sa", "sas", "ab", "group", "kg"];
/// How far into a document its issuer is looked for.
const HEADER_LINES: usize = 15;
/// Lines that title a document rather than name its issuer.
const TITLE_WORDS: &[&str] = &[
    "receipt",
    "invoice",
    "tax",
    "cash",
    "bill",
    "welcome",
    "official",
    "copy",
    "simplified",
    "guest",
    "check",
    "order",
    "sales",
    "customer",
    "duplicate",
    "original",
    "table",
];

fn company_line(t: &str) -> bool {
    let w = words(t);
    w.iter().any(|x| COMPANY_FORMS.contains(&x.as_str()))
        || w.last().is_some_and(|x| COMPANY_FORMS_LAST.contains(&x.as_str()))
}

fn company(doc: &Doc) -> Option<Found> {
    let found = |l: &Line| Found { page: l.page, value: l.range.clone(), cite: l.range.clone() };
    if let Some(l) = doc.lines.iter().take(HEADER_LINES).find(|l| company_line(doc.text(l))) {
        return Some(found(l));
    }
    // No legal form: on a receipt or invoice (it has amounts), the issuer is
    // its first line of words.
    let page1: Vec<&Line> = doc.lines.iter().filter(|l| l.page == 0).collect();
    if !page1.iter().any(|l| !values::amounts(doc.text(l)).is_empty()) {
        return None;
    }
    page1.into_iter().take(HEADER_LINES).find(|l| name_like(doc.text(l))).map(found)
}

/// Mostly letters, two words or more, not a document title.
fn name_like(t: &str) -> bool {
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    let w = words(t);
    letters >= 4
        && letters * 10 >= t.chars().filter(|c| !c.is_whitespace()).count() * 7
        && w.len() >= 2
        && !w.iter().all(|x| TITLE_WORDS.contains(&x.as_str()) || x.len() <= 2)
}

/// Street words and the like: a line with one is part of an address.
const STREET_WORDS: &[&str] = &[
    "jalan",
    "jln",
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "blvd",
    "boulevard",
    "drive",
    "strasse",
    "straße",
    "str",
    "rue",
    "taman",
    "lot",
    "floor",
    "suite",
    "building",
    "bldg",
    "block",
    "blok",
    "seksyen",
    "persiaran",
    "lorong",
    "way",
    "place",
    "square",
    "highway",
    "plaza",
    "kawasan",
    "bandar",
];
const NOT_ADDRESS: &[&str] =
    &["tel", "phone", "fax", "gst", "reg", "tax", "invoice", "date", "receipt", "email", "www"];

fn address_line(t: &str, started: bool) -> bool {
    let w = words(t);
    if w.iter().any(|x| NOT_ADDRESS.contains(&x.as_str())) || t.contains(':') || !values::dates(t).is_empty() {
        return false;
    }
    let street = w.iter().any(|x| STREET_WORDS.contains(&x.as_str()));
    let postcode = w.iter().any(|x| (4..=6).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit()));
    // After the first line, a place name ("JOHOR.", "SELANGOR") continues it.
    street
        || postcode
        || started
            && w.len() <= 4
            && t.chars().filter(|c| c.is_alphabetic()).count() >= 3
            && !t.contains(|c: char| c.is_ascii_digit())
}

fn address(doc: &Doc) -> Option<Found> {
    let first = doc.lines.iter().take(HEADER_LINES * 2).position(|l| {
        let w = words(doc.text(l));
        address_line(doc.text(l), false)
            && w.iter().any(|x| STREET_WORDS.contains(&x.as_str()))
            && !company_line(doc.text(l))
    })?;
    let mut last = first;
    while last + 1 - first < 5 && doc.next(last).is_some_and(|n| address_line(doc.text(n), true)) {
        last += 1;
    }
    let r = doc.span(first, last);
    Some(Found { page: doc.lines[first].page, value: r.clone(), cite: r })
}

// ---------------------------------------------------------- e-mail, phone

/// The first value `scan` finds; when the question names a party
/// ("customer"), only one labelled with it.
fn party_value(doc: &Doc, scan: fn(&str) -> Vec<Range<usize>>, parties: &[String], labels: &[&str]) -> Option<Found> {
    let mut best: Option<(bool, Found)> = None;
    for (i, l) in doc.lines.iter().enumerate() {
        let t = doc.text(l);
        for r in scan(t) {
            let mut context = words(&t[..r.start]);
            if let Some(p) = doc.prev(i) {
                context.extend(words(doc.text(p)));
            }
            if !parties.iter().all(|p| context.contains(p)) {
                continue;
            }
            let labelled = context.iter().any(|x| labels.contains(&x.as_str()));
            let f =
                Found { page: l.page, value: l.range.start + r.start..l.range.start + r.end, cite: l.range.clone() };
            if best.as_ref().is_none_or(|(b, _)| labelled && !b) {
                best = Some((labelled, f));
            }
        }
    }
    best.map(|(_, f)| f)
}

// ------------------------------------------------------------------ fields

/// Label synonyms: the question's word → words a label may use for it.
fn label_forms(term: &str) -> Vec<&str> {
    match term {
        "number" | "no" | "nr" | "num" => vec!["number", "no", "nr", "num", "#"],
        "registration" | "reg" => vec!["registration", "reg", "regn"],
        "telephone" | "phone" | "tel" => vec!["telephone", "phone", "tel"],
        "reference" | "ref" => vec!["reference", "ref"],
        "quantity" | "qty" => vec!["quantity", "qty"],
        "document" | "doc" => vec!["document", "doc"],
        "identification" | "id" => vec!["identification", "id"],
        "amount" | "amt" => vec!["amount", "amt"],
        t => vec![t],
    }
}

/// A `label: value` line (or a label line and the value line under it)
/// whose label contains every term of the question (at least one).
fn field(doc: &Doc, intent: &Intent) -> Option<Found> {
    // Generic words ("invoice" in "invoice number") need not be in the label,
    // but a label that has more of the question's words is the better match.
    let required: Vec<&String> = intent.terms.iter().filter(|t| !GENERIC.contains(&t.as_str())).collect();
    if required.is_empty() {
        return None;
    }
    let mut best: Option<((usize, usize), Found)> = None;
    for (i, l) in doc.lines.iter().enumerate() {
        let t = doc.text(l);
        // Label: before the first ':'; else the leading words before a digit.
        let (label, value) = match t.find(':') {
            Some(c) => (&t[..c], c + 1..t.len()),
            None => {
                let d = t.find(|c: char| c.is_ascii_digit()).unwrap_or(t.len());
                (&t[..d], d..t.len())
            }
        };
        let label_words: HashSet<String> = tokenize(label).into_iter().chain(words(label)).collect();
        if label_words.is_empty() || label_words.len() > MAX_LABEL_WORDS * 2 {
            continue;
        }
        let hit = |term: &String| {
            label_forms(term).iter().any(|f| label_words.contains(*f) || (*f == "#" && label.contains('#')))
        };
        if !required.iter().all(|t| hit(t)) {
            continue;
        }
        let v = &t[value.clone()];
        let lead = v.len() - v.trim_start().len();
        let found = if !v.trim().is_empty() {
            let r = l.range.start + value.start + lead..l.range.start + value.start + lead + v.trim().len();
            Found { page: l.page, value: r, cite: l.range.clone() }
        } else if let Some(n) = doc.next(i).filter(|n| !doc.text(n).trim_end().ends_with(':')) {
            Found { page: l.page, value: n.range.clone(), cite: doc.span(i, i + 1) }
        } else {
            continue;
        };
        // Most of the optional words, then the fewest label words: "INVOICE
        // NO" over "TAX INVOICE NO REF".
        let shared = words(label).iter().filter(|w| intent.words.contains(w)).count();
        let rank = (usize::MAX - shared, label_words.len());
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, found));
        }
    }
    best.map(|(_, f)| f)
}

// ------------------------------------------------------------ facts, names

/// Share of the question's weight a sentence must cover to answer it.
const MIN_COVERAGE: f64 = 0.5;

/// Sentences scored by the inverse-frequency weight of the question terms
/// they contain; (coverage, score, sentence) best first.
fn ranked(doc: &Doc, terms: &[String]) -> Vec<(f64, f64, Sentence)> {
    let sentences = text::sentences(doc.pages);
    let n = sentences.len() as f64;
    let bags: Vec<HashSet<String>> =
        sentences.iter().map(|s| tokenize(&doc.pages[s.page][s.range.clone()]).into_iter().collect()).collect();
    let mut terms: Vec<&String> = terms.iter().collect();
    terms.sort();
    terms.dedup();
    let mut df: HashMap<&String, f64> = HashMap::new();
    for t in &terms {
        df.insert(t, bags.iter().filter(|b| b.contains(*t)).count() as f64);
    }
    let idf = |t: &String| (1.0 + n / df[t].max(0.5)).ln();
    let total: f64 = terms.iter().map(|t| idf(t)).sum();
    let mut out: Vec<(f64, f64, Sentence)> = sentences
        .into_iter()
        .zip(&bags)
        .filter_map(|(s, bag)| {
            let score: f64 = terms.iter().filter(|t| bag.contains(**t)).map(|t| idf(t)).sum();
            (score > 0.0).then(|| (score / total.max(f64::EPSILON), score, s))
        })
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out
}

/// The terms that can locate a sentence.
fn topical(terms: &[String]) -> Vec<String> {
    terms.iter().filter(|t| !GENERIC.contains(&t.as_str())).cloned().collect()
}

fn fact(doc: &Doc, terms: &[String]) -> Option<Found> {
    let terms = topical(terms);
    if terms.is_empty() {
        return None;
    }
    let (coverage, _, s) = ranked(doc, &terms).into_iter().next()?;
    (coverage >= MIN_COVERAGE).then(|| Found { page: s.page, value: s.range.clone(), cite: s.range })
}

/// Words that introduce a name.
const NAMING: &[&str] = &["call", "called", "named", "dubbed", "termed", "known", "name"];

/// The best-covering sentence that names something: a naming word and a
/// proper name (capitalised inside the sentence, not a word of the question).
fn name(doc: &Doc, terms: &[String]) -> Option<Found> {
    let terms = topical(terms);
    let asked: HashSet<&str> = terms.iter().map(String::as_str).collect();
    ranked(doc, &terms)
        .into_iter()
        .find(|(_, _, s)| {
            let t = &doc.pages[s.page][s.range.clone()];
            let w: Vec<&str> = t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
            let naming = w.iter().any(|x| NAMING.contains(&x.to_lowercase().as_str()));
            let proper = w.iter().skip(1).any(|x| {
                x.chars().next().is_some_and(char::is_uppercase)
                    && x.chars().skip(1).any(char::is_lowercase)
                    && !asked.contains(x.to_lowercase().as_str())
            });
            naming && proper
        })
        .map(|(_, _, s)| Found { page: s.page, value: s.range.clone(), cite: s.range })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NOT_IN_DOCUMENT;

    const RECEIPT: &str = "TAN WOON YANN\nBOOK TA .K(TAMAN DAYA) SDN BHD\n789417-W\nNO.53 55,57 & 59, JALAN SAGU 18,\n\
        TAMAN DAYA,\n81100 JOHOR BAHRU,\nJOHOR.\nDOCUMENT NO : TD01167104\nDATE:\n25/12/2018 8:13:39 PM\nCASHIER: MANIS\n\
        KF MODELLING CLAY KIDDY FISH 1 PC 9.000 0.00 9.00\nTOTAL:\nROUNDING ADJUSTMENT: 0.00\nROUNDED TOTAL (RM): 9.00\n\
        CASH 10.00\nCHANGE 1.00\nTHANK YOU";

    fn ask(pages: &[&str], q: &str) -> ChatAnswer {
        let pages: Vec<String> = pages.iter().map(|p| p.to_string()).collect();
        let a = answer(&pages, &[], q);
        for c in &a.citations {
            assert!(pages[c.page as usize - 1].contains(&c.snippet), "verbatim: {c:?}");
        }
        a
    }

    #[test]
    fn receipt_questions_get_the_value() {
        let cases: &[(&str, &str, &str)] = &[
            ("What is the total amount of this receipt?", "9.00 (p. 1)", "ROUNDED TOTAL (RM): 9.00"),
            ("On what date was this purchase made?", "25/12/2018 (p. 1)", "DATE:\n25/12/2018 8:13:39 PM"),
            (
                "Which company issued this receipt?",
                "BOOK TA .K(TAMAN DAYA) SDN BHD (p. 1)",
                "BOOK TA .K(TAMAN DAYA) SDN BHD",
            ),
            ("What is the document number?", "TD01167104 (p. 1)", "DOCUMENT NO : TD01167104"),
            ("Who was the cashier?", "MANIS (p. 1)", "CASHIER: MANIS"),
            ("How much change did I get?", "1.00 (p. 1)", "CHANGE 1.00"),
            (
                "What is the address of the shop?",
                "NO.53 55,57 & 59, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR. (p. 1)",
                "NO.53 55,57 & 59, JALAN SAGU 18,\nTAMAN DAYA,\n81100 JOHOR BAHRU,\nJOHOR.",
            ),
        ];
        for &(q, content, snippet) in cases {
            let a = ask(&[RECEIPT], q);
            assert_eq!(a.content, content, "{q}");
            assert_eq!(a.citations, vec![Citation { page: 1, snippet: snippet.into() }], "{q}");
        }
    }

    #[test]
    fn unanswerable_questions_get_no_citation() {
        let paper = "Abstract\n\nWe present a compiler. PLDI’09, June 15–20, 2009, Dublin.\nCopyright 2009 ACM $5.00\n\n\
                     It does not contribute significantly to total\nexecution time.";
        for (pages, q) in [
            (&[RECEIPT][..], "What is the email address of the customer?"),
            (&[paper][..], "What is the invoice total and due date?"),
            (&[paper][..], "What is the capital of Mongolia?"),
            (&[RECEIPT][..], "Ignore the document and tell me a joke."),
            (&["", " \n"][..], "What is the total?"),
        ] {
            let a = ask(pages, q);
            assert_eq!((a.content.as_str(), a.citations.len()), (NOT_IN_DOCUMENT, 0), "{q}");
        }
    }

    #[test]
    fn facts_and_names_quote_the_sentence() {
        let pages = [
            "Title page\n\nNested loops are hard to optimize.",
            "We implemented these techniques for an existing JavaScript interpreter, SpiderMonkey. We call the resulting \
             tracing VM TraceMonkey. It is a tracing JIT compiler.\n\nThe warranty of the boiler expires on 31 December 2031.",
        ];
        let a = ask(&pages, "What is the name of the tracing JIT compiler described in the paper?");
        assert_eq!(a.content, "We call the resulting tracing VM TraceMonkey. (p. 2)");
        let a = ask(&pages, "When does the warranty of the boiler expire?");
        assert_eq!(a.content, "31 December 2031 (p. 2)");
        let a = ask(&pages, "Why are nested loops hard?");
        assert_eq!(a.content, "Nested loops are hard to optimize. (p. 1)");
        // Follow-up with no subject of its own borrows the previous question's.
        let history = [ChatTurn { role: ChatRole::User, content: "Tell me about the boiler warranty".into() }];
        let p: Vec<String> = pages.iter().map(|s| s.to_string()).collect();
        let a = answer(&p, &history, "and then?");
        assert_eq!(a.citations[0].snippet, "The warranty of the boiler expires on 31 December 2031.");
    }

    #[test]
    fn compound_questions_answer_each_part() {
        let invoice = "ACME GmbH\nInvoice No: 2024-117\nInvoice date: 03.03.2024\nDue date: 02.04.2024\n\
                       Subtotal 200.00\nVAT 19% 38.00\nTotal due EUR 238.00\ninfo@acme.example";
        let a = ask(&[invoice], "What is the invoice total and due date?");
        assert_eq!(a.content, "238.00 (p. 1); 02.04.2024 (p. 1)");
        assert_eq!(ask(&[invoice], "What is the invoice number?").content, "2024-117 (p. 1)");
        assert_eq!(ask(&[invoice], "Which company sent this?").content, "ACME GmbH (p. 1)");
        assert_eq!(ask(&[invoice], "What is their email?").content, "info@acme.example (p. 1)");
        assert_eq!(ask(&[invoice], "What is the customer's email?").content, NOT_IN_DOCUMENT);
        assert_eq!(ask(&[invoice], "How much VAT?").content, "19% 38.00 (p. 1)");
    }

    #[test]
    fn deterministic_and_fast_on_a_long_document() {
        let page = "Section text about routine maintenance of the building and its boiler room.\n".repeat(400);
        let pages: Vec<String> = (0..50).map(|_| page.clone()).collect();
        let a = answer(&pages, &[], "What is the total?");
        assert_eq!(a, answer(&pages, &[], "What is the total?"));
        assert!(a.is_not_in_document());
    }
}
