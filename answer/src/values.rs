//! The typed values documents are asked about, found in a line of text:
//! money amounts, dates, e-mail addresses, phone numbers. Hand-written
//! scanners (no regex engine in the browser worker's download); every value
//! is a byte range of the text, so answers copy it verbatim.

use std::ops::Range;

/// Currency words that may touch an amount ("RM42.90", "USD 10.00").
const CURRENCIES: &[&str] =
    &["rm", "usd", "eur", "gbp", "sgd", "myr", "chf", "inr", "rs", "aud", "cad", "jpy", "cny", "idr", "thb", "php"];

/// A money amount: digits with exactly two decimals (`9.00`, `1,234.56`,
/// `1.234,56`, `-3.80`). Returns its range and value.
pub fn amounts(s: &str) -> Vec<(Range<usize>, f64)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.' || b[i - 1] == b',')) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.' || b[j] == b',') {
            j += 1;
        }
        let mut end = j;
        while end > i && !b[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let start = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
        if letter_before_ok(s, i)
            && !alnum_at(b, j)
            && b.get(j) != Some(&b'%')
            && let Some(v) = money_value(&s[i..end])
        {
            out.push((start..end, if start < i { -v } else { v }));
        }
        i = j.max(i + 1);
    }
    out
}

fn alnum_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(|c| c.is_ascii_alphanumeric())
}

/// A number may touch letters before it only if they are a currency code.
fn letter_before_ok(s: &str, i: usize) -> bool {
    let before = &s[..i];
    match before.chars().next_back() {
        Some(c) if c.is_alphabetic() => {
            let word: String =
                before.chars().rev().take_while(|c| c.is_alphabetic()).collect::<Vec<_>>().into_iter().rev().collect();
            CURRENCIES.contains(&word.to_lowercase().as_str())
        }
        _ => true,
    }
}

/// `1,234.56` / `1.234,56` / `9.00` → value; anything else (dates, ids,
/// versions) → `None`.
fn money_value(t: &str) -> Option<f64> {
    let last = t.rfind(['.', ','])?;
    let (int, frac) = (&t[..last], &t[last + 1..]);
    if frac.len() != 2 || !frac.bytes().all(|c| c.is_ascii_digit()) || int.is_empty() {
        return None;
    }
    let dec = t.as_bytes()[last];
    let thousands = if dec == b'.' { ',' } else { '.' };
    let groups: Vec<&str> = int.split(thousands).collect();
    let ok = groups.iter().all(|g| !g.is_empty() && g.bytes().all(|c| c.is_ascii_digit()))
        && groups.iter().skip(1).all(|g| g.len() == 3)
        && (groups.len() == 1 || groups[0].len() <= 3);
    if !ok {
        return None;
    }
    format!("{}.{frac}", groups.concat()).parse().ok()
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month(word: &str) -> bool {
    let w = word.trim_end_matches('.').to_lowercase();
    w.len() >= 3 && MONTHS.iter().any(|m| *m == w || (w.len() == 3 && m.starts_with(&w)) || (w == "sept"))
}

/// Dates: `25/12/2018`, `2018-03-23`, `17-03-18`, `09.04.2018`,
/// `3 March 2020`, `March 3, 2020`, `June 15–20, 2009`, `Dec 2018`.
pub fn dates(s: &str) -> Vec<Range<usize>> {
    let mut out = numeric_dates(s);
    out.extend(word_dates(s));
    out.sort_by_key(|r| r.start);
    out
}

fn numeric_dates(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b"/.-".contains(&b[i - 1]))) {
            i += 1;
            continue;
        }
        // Three digit groups joined by one separator kind.
        let mut groups = Vec::new();
        let mut j = i;
        let mut sep = None;
        loop {
            let g = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            groups.push(&s[g..j]);
            if groups.len() == 3 || j >= b.len() || !b"/.-".contains(&b[j]) || sep.is_some_and(|x| x != b[j]) {
                break;
            }
            if !b.get(j + 1).is_some_and(u8::is_ascii_digit) {
                break;
            }
            sep = Some(b[j]);
            j += 1;
        }
        // Not followed by more of a number or word ("12-13a", "1/2/3/4").
        let more = b.get(j).is_some_and(|c| b"/.-".contains(c)) && alnum_at(b, j + 1);
        let clean_end = !alnum_at(b, j) && !more;
        if groups.len() == 3 && clean_end && valid_date(&groups) {
            out.push(i..j);
        }
        i = j.max(i + 1);
    }
    out
}

fn valid_date(g: &[&str]) -> bool {
    let n: Vec<u32> = g.iter().filter_map(|x| x.parse().ok()).collect();
    if n.len() != 3 {
        return false;
    }
    let len: Vec<usize> = g.iter().map(|x| x.len()).collect();
    let dm = |a: u32, b: u32| {
        (1..=31).contains(&a) && (1..=12).contains(&b) || (1..=12).contains(&a) && (1..=31).contains(&b)
    };
    if len[0] == 4 {
        (1900..=2100).contains(&n[0])
            && len[1] <= 2
            && len[2] <= 2
            && (1..=12).contains(&n[1])
            && (1..=31).contains(&n[2])
    } else {
        len[0] <= 2 && len[1] <= 2 && (len[2] == 2 || len[2] == 4 && (1900..=2100).contains(&n[2])) && dm(n[0], n[1])
    }
}

/// Words of `s` with their byte ranges.
fn word_spans(s: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        if c.is_alphanumeric() || c == '.' && start.is_some() {
            start.get_or_insert(i);
        } else if let Some(st) = start.take() {
            out.push(st..i);
        }
    }
    if let Some(st) = start {
        out.push(st..s.len());
    }
    // A full stop ends a word ("2020.") unless it is inside one ("Sept.").
    for r in &mut out {
        while r.end > r.start + 1
            && s.as_bytes()[r.end - 1] == b'.'
            && s[r.start..r.end - 1].bytes().all(|c| c.is_ascii_digit())
        {
            r.end -= 1;
        }
    }
    out
}

fn day(w: &str) -> bool {
    let d = w
        .trim_end_matches(['.'])
        .trim_end_matches("st")
        .trim_end_matches("nd")
        .trim_end_matches("rd")
        .trim_end_matches("th");
    d.len() <= 2 && d.parse::<u32>().is_ok_and(|n| (1..=31).contains(&n))
}

fn year(w: &str) -> bool {
    w.len() == 4 && w.parse::<u32>().is_ok_and(|n| (1800..=2100).contains(&n))
}

fn word_dates(s: &str) -> Vec<Range<usize>> {
    let words = word_spans(s);
    let text = |k: usize| &s[words[k].clone()];
    let mut out = Vec::new();
    for k in 0..words.len() {
        if !month(text(k)) || text(k).chars().next().is_some_and(char::is_lowercase) && text(k).len() <= 3 {
            continue;
        }
        let mut start = words[k].start;
        let mut end = words[k].end;
        let mut has_day = false;
        if k > 0 && day(text(k - 1)) && s[words[k - 1].end..words[k].start].trim().is_empty() {
            start = words[k - 1].start;
            has_day = true;
        }
        let mut n = k + 1;
        // A day or a day range ("15–20"), then the year.
        while n < words.len() && n <= k + 2 && day(text(n)) && !has_day {
            end = words[n].end;
            n += 1;
            if n < words.len() && day(text(n)) && s[words[n - 1].end..words[n].start].trim() == "–" {
                end = words[n].end;
                n += 1;
            }
            has_day = true;
        }
        let gap_ok = |a: usize, b: usize| s[a..b].chars().all(|c| c.is_whitespace() || c == ',');
        if n < words.len() && year(text(n)) && gap_ok(end, words[n].start) {
            end = words[n].end;
            out.push(start..end);
        } else if has_day {
            out.push(start..end);
        }
    }
    out
}

/// E-mail addresses.
pub fn emails(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || b".-".contains(&c);
    let mut out = Vec::new();
    for (at, _) in s.match_indices('@') {
        let mut st = at;
        while st > 0 && local(b[st - 1]) {
            st -= 1;
        }
        let mut en = at + 1;
        while en < b.len() && domain(b[en]) {
            en += 1;
        }
        while en > at + 1 && b[en - 1] == b'.' {
            en -= 1;
        }
        let dom = &s[at + 1..en];
        let tld_ok = dom
            .rsplit_once('.')
            .is_some_and(|(h, t)| !h.is_empty() && t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic()));
        if st < at && tld_ok {
            out.push(st..en);
        }
    }
    out
}

/// Phone numbers: 7–15 digits with `+ ( ) - .` or spaces between groups.
pub fn phones(s: &str) -> Vec<Range<usize>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i] == b'+' || b[i] == b'(' || b[i].is_ascii_digit();
        if !starts || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = 0;
        while j < b.len() && (b[j].is_ascii_digit() || b"+()- .".contains(&b[j])) {
            if b[j].is_ascii_digit() {
                digits += 1;
            }
            // A space ends the number unless more digits follow it.
            if b[j] == b' ' && !b.get(j + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'(') {
                break;
            }
            j += 1;
        }
        let mut end = j;
        while end > i && !b[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let t = &s[i..end];
        if (7..=15).contains(&digits) && !alnum_at(b, j) && money_value(t).is_none() && numeric_dates(t).is_empty() {
            out.push(i..end);
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(s: &str, f: fn(&str) -> Vec<Range<usize>>) -> Vec<&str> {
        f(s).into_iter().map(|r| &s[r]).collect()
    }

    #[test]
    fn amounts_cases() {
        let cases: &[(&str, &[(&str, f64)])] = &[
            ("TOTAL: 9.00", &[("9.00", 9.0)]),
            ("RM42.90 CASH RM 50.00", &[("42.90", 42.9), ("50.00", 50.0)]),
            ("PD 3.20 -3.80", &[("3.20", 3.2), ("-3.80", -3.8)]),
            ("Summe 1.234,56 EUR", &[("1.234,56", 1234.56)]),
            ("1,234.56", &[("1,234.56", 1234.56)]),
            ("25/12/2018 8:13:39 PM 25.12.2018 17.03.18 v1.2.30", &[]),
            ("GST 6% QTY 3 ITEM4 3X8.00 X9.50", &[]),
            ("$5.00.", &[("5.00", 5.0)]),
        ];
        for &(s, want) in cases {
            let got: Vec<(&str, f64)> = amounts(s).into_iter().map(|(r, v)| (&s[r], v)).collect();
            assert_eq!(got, want, "{s:?}");
        }
    }

    #[test]
    fn dates_cases() {
        let cases: &[(&str, &[&str])] = &[
            ("DATE: 25/12/2018 8:13:39 PM", &["25/12/2018"]),
            ("DATE: 2018-03-23", &["2018-03-23"]),
            ("17-03-18 14:49 SHO1 ZJ86", &["17-03-18"]),
            ("09.04.2018 10:52", &["09.04.2018"]),
            ("PLDI’09, June 15–20, 2009, Dublin", &["June 15–20, 2009"]),
            ("due on 3 March 2020.", &["3 March 2020"]),
            ("signed March 3, 2020", &["March 3, 2020"]),
            ("TEL: 03-40210276 GST ID: 000750673920 9.00 1/2 12-13 may be", &[]),
            ("5-7, JALAN MAHAGONI 7/1", &[]),
            ("32/13/2018 2018-13-01", &[]),
        ];
        for &(s, want) in cases {
            assert_eq!(found(s, dates), want, "{s:?}");
        }
    }

    #[test]
    fn emails_and_phones() {
        assert_eq!(found("Mail: info@shop.com.my. Or {a,b}@mozilla.com, x@y", emails), ["info@shop.com.my"]);
        assert!(found("price @ 9.00 each", emails).is_empty());
        assert_eq!(found("TEL: 03-40210276 FAX (03) 6057 1377", phones), ["03-40210276", "(03) 6057 1377"]);
        // Amounts and dates are not phone numbers; a bare 7-digit run may be.
        assert_eq!(found("TOTAL 593.10 DATE 25/12/2018 NO 1174703", phones), ["1174703"]);
    }
}
