//! The document-chat question set (`shared/testdata/qa/questions.tsv`) run
//! against a real `ocrchat serve`: OCR each file through the API, ask each
//! question, judge the answer. Used by `tests/tests/chat.rs` (acceptance),
//! the browser test (the same answers in the app) and `chatbench` (`make bench`).
//!
//! Judging (the rule): an answerable question is right when the
//! expected value is in the answer after normalising case, spaces and
//! punctuation, a cited page has that value in its text, and every snippet
//! occurs verbatim in its page's text; an unanswerable one is right when the
//! answer has no citation.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, multipart};
use serde_json::{Value, json};

use crate::server::{TestServer, wait_for};

/// One row of `questions.tsv`.
#[derive(Clone, Debug)]
pub struct Question {
    /// Test data file the question is about.
    pub file: String,
    /// The question.
    pub question: String,
    /// The value a right answer contains; `None`: the document does not say.
    pub expected: Option<String>,
    /// `total`, `date`, `company`, `fact`, `unanswerable`.
    pub kind: String,
}

/// The question set, or `None` when `testdata/qa/questions.tsv` is absent.
pub fn questions(testdata: &Path) -> Option<Vec<Question>> {
    let text = std::fs::read_to_string(testdata.join("qa/questions.tsv")).ok()?;
    let rows = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let at = |i: usize| f.get(i).copied().unwrap_or("").trim().to_string();
            Question { file: at(0), question: at(1), expected: Some(at(2)).filter(|e| !e.is_empty()), kind: at(3) }
        })
        .collect();
    Some(rows)
}

/// Lower case, letters and digits only: "BOOK TA .K (TAMAN DAYA)" ≈ "book ta.k(taman daya)".
pub fn normalise(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Why an answer is wrong, or `None` when it is right.
pub fn judge(q: &Question, reply: &Value, pages: &[String]) -> Option<String> {
    let content = reply["message"]["content"].as_str().unwrap_or_default();
    let citations = reply["message"]["citations"].as_array().cloned().unwrap_or_default();
    let Some(expected) = &q.expected else {
        return (!citations.is_empty()).then(|| format!("unanswerable, yet cited: {reply}"));
    };
    if citations.is_empty() {
        return Some(format!("no citation: {content:?}"));
    }
    let want = normalise(expected);
    if !normalise(content).contains(&want) {
        return Some(format!("{expected:?} not in the answer {content:?}"));
    }
    let mut page_has_value = false;
    for c in &citations {
        let page = c["page"].as_u64().unwrap_or(0) as usize;
        let snippet = c["snippet"].as_str().unwrap_or_default();
        let Some(text) = page.checked_sub(1).and_then(|p| pages.get(p)) else {
            return Some(format!("citation of page {page}, which does not exist"));
        };
        if !text.contains(snippet) {
            return Some(format!("snippet {snippet:?} is not verbatim in page {page}"));
        }
        page_has_value |= normalise(text).contains(&want);
    }
    (!page_has_value).then(|| format!("no cited page has {expected:?}: {citations:?}"))
}

/// A client with a bound on every request.
pub fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(600)).build().expect("http client")
}

/// OCRs `path` through the API (polling a queued job); the job's uuid and page texts.
pub fn ocr(server: &TestServer, token: &str, path: &Path) -> (String, Vec<String>) {
    let bytes = std::fs::read(path).expect("test file");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let form = multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name(name.clone()));
    let resp = client().post(server.url("/api/v1/ocr/")).bearer_auth(token).multipart(form).send().expect("submit");
    assert!(resp.status().is_success(), "{name}: HTTP {}", resp.status());
    let mut job: Value = resp.json().expect("job JSON");
    let uuid = job["uuid"].as_str().expect("uuid").to_string();
    if job["status"] != "done" {
        job = wait_for(Duration::from_secs(900), || {
            let j: Value = client()
                .get(server.url(&format!("/api/v1/ocr/{uuid}/")))
                .bearer_auth(token)
                .send()
                .ok()?
                .json()
                .ok()?;
            matches!(j["status"].as_str(), Some("done" | "failed")).then_some(j)
        })
        .unwrap_or_else(|| panic!("{name}: job {uuid} not finished in time"));
    }
    assert_eq!(job["status"], "done", "{name}: {job}");
    let pages = job["pages"].as_array().expect("pages").iter().map(|p| p["text"].as_str().unwrap_or("").to_string());
    (uuid, pages.collect())
}

/// Asks `message` about job `uuid` (`engine`: `builtin` / `llm` / server default):
/// HTTP status, body, round-trip time.
pub fn ask(
    server: &TestServer,
    token: &str,
    uuid: &str,
    message: &str,
    engine: Option<&str>,
) -> (u16, Value, Duration) {
    let mut body = json!({ "message": message });
    if let Some(e) = engine {
        body["engine"] = e.into();
    }
    let started = Instant::now();
    let resp = client()
        .post(server.url(&format!("/api/v1/chat/{uuid}/")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .expect("chat request");
    let status = resp.status().as_u16();
    let value = resp.json().unwrap_or(Value::Null);
    (status, value, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judging_follows_the_rule() {
        let pages = vec!["BOOK TA .K(TAMAN DAYA) SDN BHD\nTOTAL: 9.00".to_string()];
        let q = |expected: Option<&str>| Question {
            file: "r.jpg".into(),
            question: "?".into(),
            expected: expected.map(String::from),
            kind: "total".into(),
        };
        let reply = |content: &str, cites: Value| json!({"message": {"content": content, "citations": cites}});
        let good = reply("9.00 (p. 1)", json!([{"page": 1, "snippet": "TOTAL: 9.00"}]));
        assert_eq!(judge(&q(Some("9.00")), &good, &pages), None);
        assert_eq!(
            judge(
                &q(Some("book ta.k (taman daya) sdn bhd")),
                &reply("BOOK TA .K(TAMAN DAYA) SDN BHD", json!([{"page": 1, "snippet": "SDN BHD"}])),
                &pages
            ),
            None
        );
        assert!(judge(&q(Some("9.50")), &good, &pages).is_some(), "wrong value");
        assert!(judge(&q(Some("9.00")), &reply("9.00", json!([])), &pages).is_some(), "uncited");
        assert!(
            judge(&q(Some("9.00")), &reply("9.00", json!([{"page": 1, "snippet": "TOTAL:  9.00"}])), &pages).is_some(),
            "not verbatim"
        );
        assert!(
            judge(&q(Some("9.00")), &reply("9.00", json!([{"page": 2, "snippet": "TOTAL: 9.00"}])), &pages).is_some(),
            "no such page"
        );
        assert_eq!(judge(&q(None), &reply("The document does not say.", json!([])), &pages), None);
        assert!(judge(&q(None), &good, &pages).is_some(), "unanswerable but cited");
    }
}
