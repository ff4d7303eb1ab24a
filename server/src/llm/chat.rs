//! Grounded chat over a job's text (`POST /api/v1/chat/<uuid>/`).
//!
//! The contract: answers use only the job's text, every claim cites its page
//! with a snippet that occurs verbatim in that page, and a question the text
//! cannot answer gets an answer saying so with no citation. The model is
//! asked for `{"answer", "citations": [{"page", "quote"}]}` over numbered page
//! excerpts (the most relevant passages when the document is over budget),
//! and the server — not the model — decides what is cited: each quote is
//! looked up in the page text (`ocrchat_answer::verify`, the rule the built-in answerer uses too); an answer none of whose
//! quotes is found is replaced by [`NOT_IN_DOCUMENT`].

use ocrchat_answer::retrieval::{self, Excerpt};
use ocrchat_answer::verify::ground;
pub use ocrchat_answer::{ChatAnswer, ChatRole, ChatTurn, Citation, MAX_QUESTION_CHARS, NOT_IN_DOCUMENT};

use super::openai::{ChatRequest, Message, ResponseFormat};
use super::{LlmClient, LlmError};

/// History turns sent with a question: enough for follow-ups ("and the
/// date?"), bounded so a long conversation cannot crowd out the document.
const MAX_HISTORY_TURNS: usize = 6;
const MAX_HISTORY_TURN_CHARS: usize = 1500;
/// Room kept in the context budget for instructions and the question.
const PROMPT_OVERHEAD_CHARS: usize = 2500;
/// Citations returned at most (the model sometimes quotes every line).
const MAX_CITATIONS: usize = 8;
/// An answer's token budget: a grounded answer is a few sentences + quotes.
const MAX_ANSWER_TOKENS: u32 = 1500;

const SYSTEM: &str = "You answer questions about one document using only the page excerpts given in the user's \
message, never your own knowledge. Reply with a JSON object and nothing else:\n\
{\"found\": true, \"answer\": \"...\", \"citations\": [{\"page\": <page number>, \"quote\": \"...\"}]}\n\
Rules:\n\
- Every fact in the answer must be supported by a citation whose quote is copied character for character from \
that page's excerpt: a short, contiguous passage (one sentence or line, at most 200 characters), not a paraphrase.\n\
- Mention the page of each fact in the answer like \"(p. 2)\".\n\
- If the excerpts do not contain the answer, set \"found\" to false, \"answer\" to a sentence saying the document \
does not say, and \"citations\" to [].\n\
- Answer in the language of the question.";

/// The user message: the excerpts, then the question.
fn document_prompt(pages: &[String], excerpts: &[Excerpt], partial: bool, question: &str) -> String {
    let mut out = String::new();
    out.push_str(if partial {
        "Excerpts of the document (the passages most related to the question; page numbers start at 1):\n\n"
    } else {
        "The document's text, page by page (page numbers start at 1):\n\n"
    });
    for e in excerpts {
        out.push_str(&format!("<page number=\"{}\">\n{}\n</page>\n\n", e.page + 1, &pages[e.page][e.range.clone()]));
    }
    out.push_str("Question: ");
    out.push_str(question.trim());
    out
}

fn truncate_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The model's JSON, read leniently: page as number or string, `quote` also
/// accepted as `snippet`/`text`, code fences and prose around the object.
#[derive(Debug, Default, PartialEq)]
struct ModelAnswer {
    /// `false` when the model says the document has no answer (absent = true).
    found: bool,
    answer: String,
    citations: Vec<(Option<u32>, String)>,
}

fn parse_model_answer(raw: &str) -> Option<ModelAnswer> {
    let start = raw.find('{')?;
    let end = raw.rfind('}')?;
    let value: serde_json::Value = serde_json::from_str(raw.get(start..=end)?).ok()?;
    let answer = ["answer", "content", "response"].iter().find_map(|k| value.get(k)?.as_str())?.trim().to_string();
    let citations = value
        .get("citations")
        .and_then(|c| c.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    let quote = ["quote", "snippet", "text"].iter().find_map(|k| c.get(k)?.as_str())?;
                    let page = match c.get("page") {
                        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                        Some(serde_json::Value::String(s)) => s.trim().trim_start_matches("p.").trim().parse().ok(),
                        _ => None,
                    };
                    Some((page, quote.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let found = value.get("found").and_then(|f| f.as_bool()).unwrap_or(true);
    Some(ModelAnswer { found, answer, citations })
}

/// Rewrites "(p. N)" markers of the answer for citations that moved from
/// page N to another page, when no verified citation is left on page N (so
/// the marker can only have meant the moved quote).
fn renumber_pages(content: &str, moved: &[(u32, u32)], citations: &[Citation]) -> String {
    let map: Vec<(u32, u32)> =
        moved.iter().copied().filter(|(from, _)| !citations.iter().any(|c| c.page == *from)).collect();
    if map.is_empty() {
        return content.to_string();
    }
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(at) = rest.find("(p. ") {
        let after = &rest[at + 4..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let target = after[..digits].parse::<u32>().ok().filter(|_| after[digits..].starts_with(')'));
        match target.and_then(|n| map.iter().find(|(from, _)| *from == n)) {
            Some((_, to)) => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("(p. {to})"));
                rest = &after[digits + 1..];
            }
            None => {
                out.push_str(&rest[..at + 4]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Turns the model's raw reply into the API answer (the server-side rules).
fn finish(pages: &[String], raw: &str) -> ChatAnswer {
    let Some(model) = parse_model_answer(raw) else {
        tracing::warn!(reply = %truncate_chars(raw, 200), "chat model did not answer with the JSON asked for");
        return ChatAnswer::not_in_document();
    };
    if !model.found {
        // "Not in the document", even if it quoted something related: an
        // unanswerable question gets no citation.
        return ChatAnswer::not_in_document();
    }
    let grounded = ground(pages, &model.citations);
    for &i in &grounded.dropped {
        let (page, quote) = &model.citations[i];
        tracing::info!(page = ?page, quote = %truncate_chars(quote, 120), "dropped a citation not found in the document");
    }
    let (mut citations, moved) = (grounded.citations, grounded.moved);
    citations.truncate(MAX_CITATIONS);
    if citations.is_empty() || model.answer.is_empty() {
        // Either the model says the text has no answer, or it claimed
        // something it could not quote: both get the same safe reply.
        return ChatAnswer::not_in_document();
    }
    let content = renumber_pages(&model.answer, &moved, &citations);
    ChatAnswer { content, citations }
}

impl LlmClient {
    /// Answers `question` about a job from its page texts (index 0 = page 1)
    /// and the conversation so far (oldest first).
    pub async fn answer(&self, pages: &[String], history: &[ChatTurn], question: &str) -> Result<ChatAnswer, LlmError> {
        let question = truncate_chars(question.trim(), MAX_QUESTION_CHARS);
        if pages.iter().all(|p| p.trim().is_empty()) {
            // Nothing to ground an answer in: no need to ask a model.
            return Ok(ChatAnswer::not_in_document());
        }
        let recent = &history[history.len().saturating_sub(MAX_HISTORY_TURNS)..];
        let history_chars: usize =
            recent.iter().map(|t| truncate_chars(&t.content, MAX_HISTORY_TURN_CHARS).len()).sum();
        let budget = self
            .config()
            .max_context_chars
            .saturating_sub(history_chars + PROMPT_OVERHEAD_CHARS + question.len())
            .max(1000);
        // The last user turn joins the query so a follow-up ("and the due
        // date?") still retrieves the passage the conversation is about.
        let previous_question =
            recent.iter().rev().find(|t| t.role == ChatRole::User).map_or("", |t| t.content.as_str());
        let query = format!("{question}\n{}", truncate_chars(previous_question, MAX_HISTORY_TURN_CHARS));
        let excerpts = retrieval::select(pages, &query, budget);
        let total: usize = pages.iter().map(|p| p.trim().len()).sum();
        let sent: usize = excerpts.iter().map(|e| e.range.len()).sum();
        tracing::debug!(pages = pages.len(), excerpts = excerpts.len(), sent, total, budget, "chat context selected");

        let mut messages = vec![Message::system(SYSTEM)];
        for turn in recent {
            let text = truncate_chars(&turn.content, MAX_HISTORY_TURN_CHARS).to_string();
            messages.push(match turn.role {
                ChatRole::User => Message::user(text),
                ChatRole::Assistant => Message::assistant(text),
            });
        }
        messages.push(Message::user(document_prompt(pages, &excerpts, sent < total, question)));
        let request = ChatRequest {
            model: &self.config().model,
            messages,
            temperature: 0.0,
            max_tokens: self.config().max_output_tokens.min(MAX_ANSWER_TOKENS),
            response_format: Some(ResponseFormat { kind: "json_object" }),
            stream: false,
        };
        let done = self.complete(&request).await?;
        Ok(finish(pages, &done.content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> Vec<String> {
        vec![
            "INVOICE No. 17\nAcme Corp\n\nThe invoice total is\n$42.00, due on March 3.".to_string(),
            "Terms\n\nPayment by bank transfer only.\nLate payments incur a 2% fee.".to_string(),
        ]
    }

    #[test]
    fn model_json_is_read_leniently() {
        let cases: &[(&str, Option<ModelAnswer>)] = &[
            (
                r#"{"answer":"42 (p. 1)","citations":[{"page":1,"quote":"total is $42.00"}]}"#,
                Some(ModelAnswer {
                    found: true,
                    answer: "42 (p. 1)".into(),
                    citations: vec![(Some(1), "total is $42.00".into())],
                }),
            ),
            (
                "```json\n{\"answer\": \"x\", \"citations\": [{\"page\": \"2\", \"snippet\": \"s\"}, {\"quote\": \"q\"}]}\n```",
                Some(ModelAnswer {
                    found: true,
                    answer: "x".into(),
                    citations: vec![(Some(2), "s".into()), (None, "q".into())],
                }),
            ),
            (
                r#"{"answer":"no","citations":[]}"#,
                Some(ModelAnswer { found: true, answer: "no".into(), citations: vec![] }),
            ),
            (r#"{"answer":"no"}"#, Some(ModelAnswer { found: true, answer: "no".into(), citations: vec![] })),
            (
                r#"{"response":"r","citations":[{"page":"p. 3","text":"t"}]}"#,
                Some(ModelAnswer { found: true, answer: "r".into(), citations: vec![(Some(3), "t".into())] }),
            ),
            (
                r#"{"found":false,"answer":"Not stated.","citations":[]}"#,
                Some(ModelAnswer { found: false, answer: "Not stated.".into(), citations: vec![] }),
            ),
            ("The total is $42.", None),
            (r#"{"citations":[]}"#, None),
            (r#"{"answer": "cut off"#, None),
        ];
        for (raw, want) in cases {
            assert_eq!(&parse_model_answer(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn answers_keep_only_verified_citations() {
        let p = pages();
        type Case<'a> = (&'a str, &'a str, &'a [(u32, &'a str)]);
        let cases: &[Case] = &[
            // (model reply, expected content, expected citations)
            (
                r#"{"answer":"$42.00, due March 3 (p. 1).","citations":[{"page":1,"quote":"The invoice total is $42.00, due on March 3."}]}"#,
                "$42.00, due March 3 (p. 1).",
                &[(1, "The invoice total is\n$42.00, due on March 3.")],
            ),
            // Wrong page number: re-attributed to the page that has the quote.
            (
                r#"{"answer":"2% (p. 1).","citations":[{"page":1,"quote":"Late payments incur a 2% fee."}]}"#,
                "2% (p. 2).",
                &[(2, "Late payments incur a 2% fee.")],
            ),
            // One real quote, one invented: the invented one is dropped.
            (
                r#"{"answer":"a","citations":[{"page":2,"quote":"Payment by bank transfer only."},{"page":2,"quote":"Cheques are welcome."}]}"#,
                "a",
                &[(2, "Payment by bank transfer only.")],
            ),
            // Only invented quotes: the claim is not supported, safe reply.
            (
                r#"{"answer":"The CEO is Jane Doe (p. 1).","citations":[{"page":1,"quote":"CEO: Jane Doe"}]}"#,
                NOT_IN_DOCUMENT,
                &[],
            ),
            // A claim without any citation.
            (r#"{"answer":"The total is $99.","citations":[]}"#, NOT_IN_DOCUMENT, &[]),
            // The model says it does not know.
            (r#"{"answer":"The document does not mention a CEO.","citations":[]}"#, NOT_IN_DOCUMENT, &[]),
            // Out-of-range page and a duplicate quote.
            (
                r#"{"answer":"b","citations":[{"page":9,"quote":"Acme Corp"},{"page":1,"quote":"acme corp"}]}"#,
                "b",
                &[(1, "Acme Corp")],
            ),
            // The model says it is not there but quotes something nearby.
            (
                r#"{"found":false,"answer":"No CEO is named; only Acme Corp (p. 1).","citations":[{"page":1,"quote":"Acme Corp"}]}"#,
                NOT_IN_DOCUMENT,
                &[],
            ),
            // Not JSON at all.
            ("The total is $42.00.", NOT_IN_DOCUMENT, &[]),
        ];
        for &(raw, content, cites) in cases {
            let got = finish(&p, raw);
            assert_eq!(got.content, content, "{raw}");
            let want: Vec<Citation> = cites.iter().map(|&(page, s)| Citation { page, snippet: s.into() }).collect();
            assert_eq!(got.citations, want, "{raw}");
            for c in &got.citations {
                assert!(p[c.page as usize - 1].contains(&c.snippet), "snippet verbatim in its page");
            }
        }
    }

    #[test]
    fn page_markers_follow_moved_citations() {
        let cite = |page| Citation { page, snippet: "s".into() };
        // (answer, moves from → to, pages still cited, expected answer)
        type Case<'a> = (&'a str, &'a [(u32, u32)], &'a [u32], &'a str);
        let cases: &[Case] = &[
            ("a (p. 1).", &[(1, 2)], &[2], "a (p. 2)."),
            ("a (p. 1), b (p. 3).", &[(1, 2), (3, 1)], &[2, 1], "a (p. 1), b (p. 1)."), // page 1 still cited
            ("a (p. 1), b (p. 3).", &[(3, 4)], &[1, 4], "a (p. 1), b (p. 4)."),
            ("a (p. 12) (p. 1x) (p. ", &[(12, 2)], &[2], "a (p. 2) (p. 1x) (p. "),
            ("no markers", &[(1, 2)], &[2], "no markers"),
        ];
        for &(content, moved, pages, want) in cases {
            let cites: Vec<Citation> = pages.iter().map(|&p| cite(p)).collect();
            assert_eq!(renumber_pages(content, moved, &cites), want, "{content:?}");
        }
    }

    #[test]
    fn prompt_numbers_pages_from_one() {
        let p = pages();
        let ex = retrieval::select(&p, "fee", 1 << 20);
        let prompt = document_prompt(&p, &ex, false, " What fee? ");
        assert!(prompt.contains("<page number=\"1\">\nINVOICE No. 17"), "{prompt}");
        assert!(prompt.contains("<page number=\"2\">\nTerms"));
        assert!(prompt.ends_with("Question: What fee?"));
    }
}
