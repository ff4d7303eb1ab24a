//! The OpenAI chat-completions protocol (`POST {base_url}/chat/completions`),
//! the de-facto API of OpenAI, vLLM, llama.cpp's server and Ollama: request
//! and response types and the one bounded HTTP call everything else uses.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::{LlmConfig, LlmError};

/// Largest response body read from the endpoint. A page transcription or a
/// chat answer is a few KiB; anything near this is a broken or hostile server.
const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// How much of an error body goes into [`LlmError::Upstream`] (and so logs).
const ERROR_DETAIL_CHARS: usize = 300;
/// Connecting must not eat the whole request budget when the host is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A chat-completions request body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<Message>,
    /// 0 everywhere: transcriptions and grounded answers must be reproducible.
    pub temperature: f32,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    pub stream: bool,
}

/// `{"type": "json_object"}`: the endpoint constrains the answer to JSON.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One message of the conversation sent.
#[derive(Debug, Serialize)]
pub(crate) struct Message {
    pub role: &'static str,
    pub content: Content,
}

/// Plain text, or parts (text and images) for vision models.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

/// One part of a multi-part message.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

/// An image, here always a `data:` URI (nothing is fetched by URL).
#[derive(Debug, Serialize)]
pub(crate) struct ImageUrl {
    pub url: String,
    /// `high`: OpenAI otherwise downsizes pages to 512 px, unreadable for OCR.
    pub detail: &'static str,
}

impl Message {
    pub fn system(text: impl Into<String>) -> Self {
        Message { role: "system", content: Content::Text(text.into()) }
    }
    pub fn user(text: impl Into<String>) -> Self {
        Message { role: "user", content: Content::Text(text.into()) }
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Message { role: "assistant", content: Content::Text(text.into()) }
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    /// Some servers answer 200 with an error object instead of choices.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: ResponseMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<serde_json::Value>,
}

/// The text of the first choice.
#[derive(Debug)]
pub(crate) struct Completion {
    pub content: String,
    /// `true` when the answer stopped at `max_tokens`.
    pub truncated: bool,
}

/// A client for one OpenAI-compatible endpoint (one per role: VLM, chat).
/// Cheap to clone; clones share the connection pool and concurrency limit.
#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    config: Arc<LlmConfig>,
    slots: Arc<Semaphore>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient").field("endpoint", &self.endpoint.as_str()).field("config", &self.config).finish()
    }
}

impl LlmClient {
    /// Checks the configuration and builds the HTTP client. Makes no request.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        if config.base_url.trim().is_empty() {
            return Err(LlmError::NotConfigured("model"));
        }
        if config.model.trim().is_empty() {
            return Err(LlmError::InvalidConfig("the model name is empty".into()));
        }
        if config.timeout_secs == 0 || config.max_concurrent == 0 {
            return Err(LlmError::InvalidConfig("timeout_secs and max_concurrent must be at least 1".into()));
        }
        let base = config.base_url.trim().trim_end_matches('/');
        let endpoint = reqwest::Url::parse(&format!("{base}/chat/completions"))
            .map_err(|e| LlmError::InvalidConfig(format!("base_url {base:?}: {e}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host().is_none() {
            return Err(LlmError::InvalidConfig(format!("base_url {base:?} must be an http(s) URL")));
        }
        if endpoint.scheme() == "http" && !is_loopback(&endpoint) {
            // Allowed (a model server on the LAN), but the page images and
            // document text travel unencrypted: say so once.
            tracing::warn!(endpoint = %endpoint, "model endpoint is plain http on a non-loopback host");
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(Duration::from_secs(config.timeout_secs))
            // Only ever the configured host: a redirect could send documents elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ocrchat/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&endpoint) {
            // A model on this machine must never be reached through an HTTP proxy.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| LlmError::InvalidConfig(format!("HTTP client: {e}")))?;
        let slots = Arc::new(Semaphore::new(config.max_concurrent));
        Ok(LlmClient { http, endpoint, config: Arc::new(config), slots })
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    /// One chat completion: waits for a free slot, POSTs once (no retries:
    /// the caller's job queue decides about trying again), reads at most
    /// [`MAX_RESPONSE_BYTES`], all within `timeout_secs`.
    pub(crate) async fn complete(&self, request: &ChatRequest<'_>) -> Result<Completion, LlmError> {
        let secs = self.config.timeout_secs;
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(secs), self.complete_unbounded(request)).await;
        let result = result.unwrap_or(Err(LlmError::Timeout { secs }));
        match &result {
            Ok(c) => tracing::debug!(
                model = %self.config.model,
                ms = started.elapsed().as_millis() as u64,
                chars = c.content.len(),
                truncated = c.truncated,
                "model answered"
            ),
            Err(e) => {
                tracing::warn!(model = %self.config.model, endpoint = %self.endpoint, error = %e, "model request failed")
            }
        }
        result
    }

    async fn complete_unbounded(&self, request: &ChatRequest<'_>) -> Result<Completion, LlmError> {
        let _slot = self.slots.acquire().await.map_err(|_| LlmError::Unreachable("client closed".into()))?;
        let mut req = self.http.post(self.endpoint.clone()).json(request);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key.expose());
        }
        let mut resp = req.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if let Some(len) = resp.content_length()
            && len > MAX_RESPONSE_BYTES as u64
        {
            return Err(LlmError::Malformed(format!(
                "response of {len} bytes exceeds the {MAX_RESPONSE_BYTES}-byte limit"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(LlmError::Malformed(format!("response exceeds the {MAX_RESPONSE_BYTES}-byte limit")));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(LlmError::Upstream { status: status.as_u16(), detail: excerpt(&body) });
        }
        parse_completion(&body)
    }

    fn transport_error(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout { secs: self.config.timeout_secs }
        } else {
            // Without the URL: it is logged once by `complete` already.
            LlmError::Unreachable(crate::error::chain(&e.without_url()))
        }
    }
}

/// Parses a chat-completions response body into the first choice's text.
fn parse_completion(body: &[u8]) -> Result<Completion, LlmError> {
    let parsed: ChatResponse = serde_json::from_slice(body)
        .map_err(|e| LlmError::Malformed(format!("not a chat-completions JSON body ({e}): {}", excerpt(body))))?;
    let Some(choice) = parsed.choices.into_iter().next() else {
        let why = parsed.error.map(|e| e.to_string()).unwrap_or_else(|| "no choices".into());
        return Err(LlmError::Malformed(truncate_chars(&why, ERROR_DETAIL_CHARS)));
    };
    let content = match choice.message.content {
        Some(serde_json::Value::String(s)) => s,
        // A few servers return content as parts even for text-only answers.
        Some(serde_json::Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(|t| t.as_str())).collect::<Vec<_>>().join("")
        }
        _ => String::new(),
    };
    if content.trim().is_empty() {
        return Err(LlmError::Malformed("the answer is empty".into()));
    }
    Ok(Completion { content, truncated: choice.finish_reason.as_deref() == Some("length") })
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn excerpt(body: &[u8]) -> String {
    truncate_chars(String::from_utf8_lossy(body).trim(), ERROR_DETAIL_CHARS)
}

fn truncate_chars(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_serializes_to_the_wire_format() {
        let req = ChatRequest {
            model: "m",
            messages: vec![
                Message::system("s"),
                Message {
                    role: "user",
                    content: Content::Parts(vec![
                        Part::Text { text: "t".into() },
                        Part::ImageUrl {
                            image_url: ImageUrl { url: "data:image/png;base64,AA==".into(), detail: "high" },
                        },
                    ]),
                },
            ],
            temperature: 0.0,
            max_tokens: 10,
            response_format: Some(ResponseFormat { kind: "json_object" }),
            stream: false,
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "model": "m", "temperature": 0.0, "max_tokens": 10, "stream": false,
                "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "t"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==", "detail": "high"}}
                    ]}
                ]
            })
        );
    }

    #[test]
    fn responses_parse_or_fail_typed() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
        let c = parse_completion(ok).unwrap();
        assert_eq!((c.content.as_str(), c.truncated), ("hi", false));
        let cut = br#"{"choices":[{"message":{"content":"hi"},"finish_reason":"length"}]}"#;
        assert!(parse_completion(cut).unwrap().truncated);
        let parts = br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        assert_eq!(parse_completion(parts).unwrap().content, "ab");
        for bad in [
            &b"<html>oops</html>"[..],
            br#"{"choices":[]}"#,
            br#"{"error":{"message":"model not loaded"}}"#,
            br#"{"choices":[{"message":{"content":null}}]}"#,
        ] {
            assert!(matches!(parse_completion(bad), Err(LlmError::Malformed(_))), "{}", String::from_utf8_lossy(bad));
        }
        let Err(LlmError::Malformed(m)) = parse_completion(br#"{"error":{"message":"model not loaded"}}"#) else {
            panic!()
        };
        assert!(m.contains("model not loaded"));
    }

    #[test]
    fn client_rejects_bad_configs() {
        let cases: &[(&str, &str, bool)] = &[
            ("http://127.0.0.1:8000/v1", "m", true),
            ("https://api.example.invalid/v1/", "m", true),
            ("", "m", false),
            ("http://127.0.0.1:8000/v1", " ", false),
            ("ftp://host/v1", "m", false),
            ("not a url", "m", false),
        ];
        for &(url, model, ok) in cases {
            let r = LlmClient::new(LlmConfig::new(url, model));
            assert_eq!(r.is_ok(), ok, "{url:?} {model:?}: {r:?}");
        }
        let c = LlmClient::new(LlmConfig::new("http://localhost:1/v1/", "m")).unwrap();
        assert_eq!(c.endpoint.as_str(), "http://localhost:1/v1/chat/completions");
        assert!(matches!(LlmClient::new(LlmConfig::new("", "m")), Err(LlmError::NotConfigured(_))));
    }
}
