//! `fake_llm`: a stand-in for an OpenAI-compatible LLM/VLM endpoint, for
//! tests only (we cannot run a real model here). It speaks the real
//! chat-completions protocol on 127.0.0.1 and answers deterministically from
//! what it was sent, so tests can tell the server really used it:
//!
//! - an image request: the data URI is decoded and checked to be a real PNG
//!   or JPEG (its size read with the `image` crate); the answer is a fenced
//!   Markdown table naming the image size and format and the tool, language
//!   and target language the prompt asked for;
//! - a chat request: a naive word-overlap lookup over the `<page number="N">`
//!   excerpts; the answer is JSON quoting the best-matching sentence (with its
//!   whitespace collapsed onto one line, as models copy) or, when no word
//!   overlaps, a "not in the document" answer without citation.
//!
//! - a translation request (text only): the document back under a
//!   `# Translation (<code>)` heading.
//!
//! Behaviour switches by model name: `fake-500` (HTTP 500), `fake-garbage`
//! (200 with a non-JSON body), `fake-slow` (answers after 5 s), `fake-liar`
//! (chat quotes a sentence that is not in the document), `fake-redirect`
//! (307 to another port), `fake-huge` (a 5 MiB answer).
//! Environment: `FAKE_LLM_API_KEY` (require `Authorization: Bearer <key>`),
//! `FAKE_LLM_LOG` (append one JSON line per request, image data replaced by
//! its decoded size), `FAKE_LLM_MAX_SECS` (exit after this long, default 600,
//! so a test that dies cannot leave it running).
//! Prints `listening on http://127.0.0.1:PORT` on stdout once it accepts.

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

struct Fake {
    api_key: Option<String>,
    log: Option<Mutex<std::fs::File>>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let log = env("FAKE_LLM_LOG").map(|p| {
        Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(&p).expect("open FAKE_LLM_LOG"))
    });
    let max_secs: u64 = env("FAKE_LLM_MAX_SECS").and_then(|s| s.parse().ok()).unwrap_or(600);
    let state = Arc::new(Fake { api_key: env("FAKE_LLM_API_KEY"), log });
    let app = Router::new()
        .route("/chat/completions", post(completions))
        .route("/v1/chat/completions", post(completions))
        // Page images arrive base64-encoded: far over axum's 2 MB default.
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    {
        #[allow(clippy::print_stdout, reason = "the readiness line tests wait for is this binary's output")]
        {
            println!("listening on http://{addr}");
        }
        std::io::stdout().flush().expect("flush stdout");
    }
    let serve = axum::serve(listener, app);
    if tokio::time::timeout(Duration::from_secs(max_secs), serve).await.is_err() {
        eprintln!("fake_llm: exiting after FAKE_LLM_MAX_SECS={max_secs}");
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": "fake_error"}}))).into_response()
}

async fn completions(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let image = match take_image(&mut request) {
        Ok(image) => image,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid image: {e}")),
    };
    if let Some(log) = &fake.log {
        let line = json!({"authorization": auth, "image": image, "body": request});
        let mut f = log.lock().expect("log lock");
        writeln!(f, "{line}").expect("write FAKE_LLM_LOG");
    }
    if let Some(key) = &fake.api_key
        && auth.as_deref() != Some(&format!("Bearer {key}"))
    {
        return error(StatusCode::UNAUTHORIZED, "invalid api key");
    }
    let model = request["model"].as_str().unwrap_or_default().to_string();
    match model.as_str() {
        "fake-500" => return error(StatusCode::INTERNAL_SERVER_ERROR, "the fake model crashed"),
        "fake-garbage" => {
            return (StatusCode::OK, "<html>this is not a chat completion</html>").into_response();
        }
        "fake-slow" => tokio::time::sleep(Duration::from_secs(5)).await,
        // Somewhere else on this machine: a client must not follow it.
        "fake-redirect" => {
            return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "http://127.0.0.1:9/v1/chat/completions")])
                .into_response();
        }
        // 5 MiB of valid JSON: over the client's response limit.
        "fake-huge" => {
            let padding = "x".repeat(5 << 20);
            return axum::Json(json!({"choices": [{"message": {"content": padding}}]})).into_response();
        }
        _ => {}
    }
    let user = last_user_text(&request);
    let content = match &image {
        Some(image) => transcription(image, &user),
        None if model == "fake-liar" => json!({
            "answer": "The document was written by Jane Doe in 1887 (p. 1).",
            "citations": [{"page": 1, "quote": "Written by Jane Doe in 1887."}]
        })
        .to_string(),
        None if user.starts_with("Translate this document into") => translation(&user),
        None => chat_answer(&user),
    };
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    }))
    .into_response()
}

/// Finds the request's image, decodes it (a real PNG/JPEG or an error) and
/// replaces its data in `request` by a short placeholder for the log.
fn take_image(request: &mut Value) -> Result<Option<Value>, String> {
    let Some(messages) = request["messages"].as_array_mut() else {
        return Ok(None);
    };
    for m in messages {
        let Some(parts) = m["content"].as_array_mut() else {
            continue;
        };
        for p in parts {
            let Some(url) = p["image_url"]["url"].as_str() else {
                continue;
            };
            let (head, data) = url.split_once(',').ok_or("not a data URI")?;
            let mime =
                head.strip_prefix("data:").and_then(|h| h.strip_suffix(";base64")).ok_or("not a base64 data URI")?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(|e| format!("base64: {e}"))?;
            let reader =
                image::ImageReader::new(Cursor::new(&bytes)).with_guessed_format().map_err(|e| e.to_string())?;
            let format = match reader.format() {
                Some(image::ImageFormat::Png) => "png",
                Some(image::ImageFormat::Jpeg) => "jpeg",
                other => return Err(format!("not PNG or JPEG: {other:?}")),
            };
            if mime != format!("image/{format}") {
                return Err(format!("data URI says {mime} but the bytes are {format}"));
            }
            let (width, height) = reader.into_dimensions().map_err(|e| format!("undecodable {format}: {e}"))?;
            p["image_url"]["url"] = json!(format!("{head},<{} bytes>", bytes.len()));
            return Ok(Some(json!({"format": format, "width": width, "height": height, "bytes": bytes.len()})));
        }
    }
    Ok(None)
}

/// The text of the last user message (text parts joined).
fn last_user_text(request: &Value) -> String {
    let Some(m) = request["messages"].as_array().and_then(|ms| ms.iter().rev().find(|m| m["role"] == "user")) else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// `NAME (code)` after `marker` in the prompt, e.g. "written in German (de)".
fn code_after(prompt: &str, marker: &str) -> Option<String> {
    let rest = &prompt[prompt.find(marker)? + marker.len()..];
    let open = rest.find('(')?;
    let close = rest[open..].find(')')? + open;
    Some(rest[open + 1..close].to_string())
}

fn transcription(image: &Value, prompt: &str) -> String {
    let tool = if prompt.contains("attention to its tables") {
        "extract-tables"
    } else if prompt.contains("handwritten") {
        "handwriting-to-text"
    } else if prompt.contains("LaTeX") {
        "math-to-latex"
    } else if prompt.contains("translated into") {
        "translate"
    } else {
        "none"
    };
    let language = code_after(prompt, "written in").unwrap_or_else(|| "auto".into());
    let to = code_after(prompt, "translated into").unwrap_or_else(|| "-".into());
    let (w, h, f) = (&image["width"], &image["height"], image["format"].as_str().unwrap_or("?"));
    // Fenced, as real models often do despite the prompt.
    format!(
        "```markdown\n# Fake transcription\n\nA {w}x{h} {f} page, read with the **{tool}** preset.\n\n\
         | field | value |\n|---|---|\n| width | {w} |\n| height | {h} |\n| format | {f} |\n\
         | tool | {tool} |\n| language | {language} |\n| translate_to | {to} |\n```"
    )
}

/// "Translates" by labelling the document with the target code.
fn translation(prompt: &str) -> String {
    let to = code_after(prompt, "into").unwrap_or_else(|| "?".into());
    let start = prompt.find("<document>\n").map_or(0, |i| i + 11);
    let end = prompt.rfind("\n</document>").unwrap_or(prompt.len());
    format!("# Translation ({to})\n\n{}", &prompt[start..end.max(start)])
}

const STOP: &[&str] = &[
    "the", "and", "what", "does", "which", "who", "how", "this", "that", "with", "for", "are", "was", "document",
    "page",
];

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOP.contains(&w.as_str()))
        .collect()
}

/// Word-overlap lookup over the `<page number="N">` excerpts.
fn chat_answer(prompt: &str) -> String {
    let question = prompt.rsplit("Question:").next().unwrap_or("").trim();
    let asked = words(question);
    let mut best: Option<(usize, u32, String)> = None;
    let mut rest = prompt;
    while let Some(at) = rest.find("<page number=\"") {
        let after = &rest[at + 14..];
        let Some(q) = after.find('"') else { break };
        let page: u32 = after[..q].parse().unwrap_or(0);
        let body_start = after.find('>').map_or(0, |i| i + 1);
        let body_end = after.find("</page>").unwrap_or(after.len());
        let body = &after[body_start..body_end.max(body_start)];
        for sentence in sentences(body) {
            let have = words(&sentence);
            let score = asked.iter().filter(|w| have.contains(w)).count();
            if score > 0 && best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, page, sentence));
            }
        }
        rest = &after[body_end.min(after.len())..];
    }
    match best {
        Some((_, page, quote)) => json!({
            "found": true,
            "answer": format!("The document says: {quote} (p. {page})."),
            "citations": [{"page": page, "quote": quote}]
        }),
        None => json!({"found": false, "answer": "The document does not mention this.", "citations": []}),
    }
    .to_string()
}

/// Sentences of an excerpt, each on one line (whitespace collapsed).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let flat = block.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut start = 0;
        for (i, c) in flat.char_indices() {
            if matches!(c, '.' | '?' | '!') && flat[i + 1..].starts_with(' ') {
                out.push(flat[start..=i].trim().to_string());
                start = i + 1;
            }
        }
        out.push(flat[start..].trim().to_string());
    }
    out.retain(|s| s.chars().filter(|c| c.is_alphanumeric()).count() >= 8);
    out
}
