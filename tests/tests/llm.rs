//! The LLM/VLM client (`ocrchat::llm`) against `fake_llm`, a local stand-in
//! that speaks the real chat-completions protocol: page transcription with
//! real images, grounded chat over text produced by the real engine, the
//! server-side citation check, and every failure mode mapped to its typed error.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use ocrchat::llm::{ChatRole, ChatTurn, LlmClient, LlmConfig, LlmError, NOT_IN_DOCUMENT, PageRequest, Secret, Tool};
use ocrchat_engine::ModelSize;
use ocrchat_tests::{engine, testdata_or_skip};
use serde_json::Value;

/// A running `fake_llm`, killed on drop.
struct Fake {
    child: Child,
    base_url: String,
    log: PathBuf,
}

impl Fake {
    fn start(api_key: Option<&str>) -> Fake {
        static N: AtomicUsize = AtomicUsize::new(0);
        let log = std::env::temp_dir().join(format!(
            "ocrchat-fake-llm-{}-{}.jsonl",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fake_llm"));
        cmd.env("FAKE_LLM_LOG", &log).env("FAKE_LLM_MAX_SECS", "300").stdout(Stdio::piped());
        match api_key {
            Some(k) => cmd.env("FAKE_LLM_API_KEY", k),
            None => cmd.env_remove("FAKE_LLM_API_KEY"),
        };
        let mut child = cmd.spawn().expect("start fake_llm");
        // Readiness: the line is printed once the socket is listening.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("read fake_llm stdout");
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Fake { child, base_url: format!("{base}/v1"), log }
    }

    fn client(&self, model: &str, api_key: Option<&str>) -> LlmClient {
        let mut config = LlmConfig::new(&self.base_url, model);
        config.api_key = api_key.map(Secret::new);
        config.timeout_secs = 30;
        LlmClient::new(config).expect("valid config")
    }

    /// The requests the fake received, oldest first.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([250, 250, 250]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn page_request(language: &str, tool: Option<Tool>, to: Option<&str>) -> PageRequest {
    PageRequest { language: language.into(), tool, translate_to: to.map(String::from) }
}

#[tokio::test]
async fn transcribes_an_image_with_the_requested_preset() {
    let fake = Fake::start(Some("sk-test"));
    let client = fake.client("fake-vlm", Some("sk-test"));
    let t = client
        .transcribe_page(&png(321, 123), &page_request("de", Some(Tool::ExtractTables), None))
        .await
        .expect("transcription");
    assert!(!t.markdown.starts_with("```"), "outer fence removed: {}", t.markdown);
    for row in ["| width | 321 |", "| height | 123 |", "| tool | extract-tables |", "| language | de |"] {
        assert!(t.markdown.contains(row), "{row} missing from {}", t.markdown);
    }
    assert!(t.text.contains("width\t321\nheight\t123\nformat\tpng"), "plain text: {:?}", t.text);
    assert!(t.text.starts_with("Fake transcription\n\nA 321x123 png page, read with the extract-tables preset."));
    assert!(!t.text.contains('|') && !t.text.contains("**"));

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r["authorization"], "Bearer sk-test");
    assert_eq!(r["image"]["width"], 321);
    assert_eq!(r["body"]["model"], "fake-vlm");
    assert_eq!(r["body"]["temperature"], 0.0);
    assert_eq!(r["body"]["stream"], false);
    assert!(
        r["body"]["messages"][1]["content"][1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

#[tokio::test]
async fn transcribes_real_test_pages() {
    let Some(dir) = testdata_or_skip("transcribes_real_test_pages") else {
        return;
    };
    let fake = Fake::start(None);
    let client = fake.client("fake-vlm", None);
    let cases = [
        ("tess_phototest.png", "png", page_request("en", None, None), "none"),
        ("sroie_000.jpg", "jpeg", page_request("auto", Some(Tool::Translate), Some("fr")), "translate"),
        ("tess_eurotext.png", "png", page_request("auto", Some(Tool::HandwritingToText), None), "handwriting-to-text"),
    ];
    for (file, format, req, tool) in cases {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let (w, h) = image::ImageReader::new(std::io::Cursor::new(&bytes))
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .unwrap();
        let t = client.transcribe_page(&bytes, &req).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            t.text.contains(&format!("width\t{w}\nheight\t{h}\nformat\t{format}\ntool\t{tool}")),
            "{file}: {}",
            t.text
        );
        let want_lang = if req.language == "auto" { "auto" } else { req.language.as_str() };
        assert!(t.text.contains(&format!("language\t{want_lang}")), "{file}: {}", t.text);
        assert!(t.text.contains(&format!("translate_to\t{}", req.translate_to.as_deref().unwrap_or("-"))), "{file}");
    }
    assert_eq!(fake.requests().len(), 3);
    assert!(fake.requests().iter().all(|r| r["authorization"].is_null()), "no key configured, none sent");
}

#[tokio::test]
async fn translates_engine_markdown_for_the_cpu_tier() {
    let fake = Fake::start(None);
    let client = fake.client("fake-llm", None);
    let t =
        client.translate_markdown("# Rechnung\n\n| Posten | Preis |\n|---|---|\n| Tee | 2,50 |", "fr").await.unwrap();
    assert_eq!(t.text, "Translation (fr)\n\nRechnung\n\nPosten\tPreis\nTee\t2,50");
    let sent = fake.requests();
    let user = sent[0]["body"]["messages"][1]["content"].as_str().unwrap();
    assert!(user.starts_with("Translate this document into French (fr)."), "{user}");
    // Nothing to translate: no request.
    assert_eq!(client.translate_markdown(" \n", "fr").await.unwrap().text, "");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn chat_over_engine_text_cites_verbatim() {
    let Some(dir) = testdata_or_skip("chat_over_engine_text_cites_verbatim") else {
        return;
    };
    let pages: Vec<String> = ["tess_eurotext.png", "tess_phototest.png"]
        .iter()
        .map(|f| {
            let doc = engine(ModelSize::Small).ocr_bytes(&std::fs::read(dir.join(f)).unwrap(), |_, _| {}).unwrap();
            doc.pages.iter().map(|p| p.text.clone()).collect::<Vec<_>>().join("\n\n")
        })
        .collect();
    let fake = Fake::start(None);
    let client = fake.client("fake-chat", None);

    let a = client.answer(&pages, &[], "Did the quick brown dog jump over the lazy fox?").await.unwrap();
    assert!(!a.citations.is_empty(), "answerable question cites: {a:?}");
    for c in &a.citations {
        assert_eq!(c.page, 2, "phototest is page 2: {a:?}");
        assert!(pages[c.page as usize - 1].contains(&c.snippet), "snippet {:?} verbatim in page {}", c.snippet, c.page);
    }
    assert!(a.content.contains("(p. 2)"), "{}", a.content);
    // The fake collapsed the quote's line breaks; the snippet is the page's own text.
    assert!(a.citations.iter().any(|c| c.snippet.contains('\n')), "snippet spans OCR lines as in the page: {a:?}");

    let none = client.answer(&pages, &[], "What is the capital of Mongolia?").await.unwrap();
    assert_eq!(none.content, NOT_IN_DOCUMENT);
    assert!(none.citations.is_empty());

    // The whole (small) document went to the model, pages numbered from 1.
    let sent = fake.requests();
    let user = sent[0]["body"]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert!(user.contains("<page number=\"1\">") && user.contains("<page number=\"2\">"), "{user}");
    assert_eq!(sent[0]["body"]["response_format"]["type"], "json_object");
}

#[tokio::test]
async fn long_documents_send_the_relevant_passage_within_budget() {
    let filler = |k: usize| {
        (0..60)
            .map(|i| format!("Section {k}.{i} lists routine maintenance of the building."))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut pages: Vec<String> = (0..20).map(filler).collect();
    pages[13] = format!("{}\n\nThe warranty of the boiler expires on 31 December 2031.\n\n{}", filler(13), filler(99));
    let fake = Fake::start(None);
    let mut config = LlmConfig::new(&fake.base_url, "fake-chat");
    config.max_context_chars = 6000;
    let client = LlmClient::new(config).unwrap();
    let history = [
        ChatTurn { role: ChatRole::User, content: "Tell me about the boiler.".into() },
        ChatTurn { role: ChatRole::Assistant, content: "It is in the basement.".into() },
    ];
    let a = client.answer(&pages, &history, "When does its warranty expire?").await.unwrap();
    assert_eq!(a.citations.len(), 1, "{a:?}");
    assert_eq!(a.citations[0].page, 14);
    assert_eq!(a.citations[0].snippet, "The warranty of the boiler expires on 31 December 2031.");

    let sent = fake.requests();
    let messages = sent[0]["body"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "system, two history turns, question");
    assert_eq!(messages[1]["content"], "Tell me about the boiler.");
    let total: usize = messages.iter().map(|m| m["content"].as_str().unwrap().len()).sum();
    assert!(total <= 6000 + 2500, "request bounded by max_context_chars: {total}");
    let user = messages[3]["content"].as_str().unwrap();
    assert!(user.contains("<page number=\"14\">"), "{user}");
}

#[tokio::test]
async fn invented_quotes_never_reach_the_caller() {
    let fake = Fake::start(None);
    let client = fake.client("fake-liar", None);
    let pages = vec!["Minutes of the meeting.\n\nThe budget was approved unanimously.".to_string()];
    let a = client.answer(&pages, &[], "Who wrote this and when?").await.unwrap();
    assert_eq!(a.content, NOT_IN_DOCUMENT);
    assert!(a.citations.is_empty());
    // Without any text there is nothing to ask.
    let empty = client.answer(&["  ".to_string()], &[], "Anything?").await.unwrap();
    assert_eq!(empty.content, NOT_IN_DOCUMENT);
    assert_eq!(fake.requests().len(), 1, "an empty document is answered without a model call");
}

#[tokio::test]
async fn failures_are_typed() {
    let fake = Fake::start(Some("right"));
    let page = png(40, 20);
    let req = page_request("auto", None, None);

    let e = fake.client("fake-vlm", Some("wrong")).transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(e, LlmError::Upstream { status: 401, .. }), "{e:?}");
    assert!(!e.is_transient());
    let e = fake.client("fake-500", Some("right")).transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(&e, LlmError::Upstream { status: 500, detail } if detail.contains("crashed")), "{e:?}");
    assert!(e.is_transient());
    let e =
        fake.client("fake-garbage", Some("right")).answer(&["some text here".into()], &[], "text?").await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed(_)), "{e:?}");
    assert_eq!(e.code(), "llm_bad_response");

    let mut slow = LlmConfig::new(&fake.base_url, "fake-slow");
    slow.api_key = Some(Secret::new("right"));
    slow.timeout_secs = 1;
    let started = std::time::Instant::now();
    let e = LlmClient::new(slow).unwrap().transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(e, LlmError::Timeout { secs: 1 }), "{e:?}");
    assert!(started.elapsed().as_secs_f64() < 4.0, "the timeout bounds the call");

    let e = fake.client("fake-vlm", Some("right")).transcribe_page(b"GIF89a...", &req).await.unwrap_err();
    assert!(matches!(e, LlmError::BadImage(_)), "{e:?}");
    let sent_before = fake.requests().len();
    assert_eq!(sent_before, 4, "a bad image is refused before any request");

    // Redirects are not followed (documents go to the configured URL only),
    // and an oversized answer is refused rather than buffered.
    let e = fake.client("fake-redirect", Some("right")).transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(e, LlmError::Upstream { status: 307, .. }), "{e:?}");
    let e = fake.client("fake-huge", Some("right")).transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(&e, LlmError::Malformed(m) if m.contains("limit")), "{e:?}");
    assert_eq!(fake.requests().len(), 6);

    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gone = LlmClient::new(LlmConfig::new(format!("http://127.0.0.1:{port}/v1"), "m")).unwrap();
    let e = gone.transcribe_page(&page, &req).await.unwrap_err();
    assert!(matches!(e, LlmError::Unreachable(_)), "{e:?}");
    assert!(e.is_transient());
}
