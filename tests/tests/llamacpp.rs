//! The LLM path against a real llama.cpp server (not a fake): the `xllamacpp`
//! wheel's OpenAI-compatible server on loopback running SmolLM2-135M
//! (`scripts/local-llm.sh`, fetched by `make test` into ~/.cache/ocrchat).
//! Asserted: the chat and translate round trips complete, and every citation
//! the API returns is verified — whatever the tiny model says.
//!
//! `make test` sets OCRCHAT_TEST_LLAMACPP=1 after fetching, so a missing
//! model fails there; a bare `cargo test` without it prints SKIP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ocrchat_tests::server::{TempDir, TestServer};
use ocrchat_tests::{qa, testdata_or_skip, workspace_root};
use reqwest::blocking::multipart;
use serde_json::Value;

/// llama.cpp's server, stopped on drop.
struct Llama {
    child: Child,
    base: String,
}

impl Llama {
    fn start() -> Llama {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(workspace_root().join("scripts/local-llm.sh"))
            .args(["serve", "smollm2", &port.to_string()])
            // Bounded: short answers, a small context, both cores but waiting passively.
            .env("OCRCHAT_LLM_MAX_TOKENS", "128")
            .env("OCRCHAT_LLM_CTX", "4096")
            .env("OMP_WAIT_POLICY", "passive")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("scripts/local-llm.sh runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(base) = line.strip_prefix("listening on ") {
                    let _ = tx.send(base.trim().to_string());
                }
            }
        });
        let base = rx.recv_timeout(Duration::from_secs(180)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("llama.cpp's server did not start within 180 s");
        });
        assert!(base.starts_with("http://127.0.0.1:"), "loopback only: {base}");
        Llama { child, base }
    }
}

impl Drop for Llama {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fetched() -> bool {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    cache.join("ocrchat/llm/SmolLM2-135M-Instruct.Q4_1.gguf.ok").is_file()
}

#[test]
fn chat_and_translate_round_trip_through_llama_cpp() {
    let Some(dir) = testdata_or_skip("llama.cpp round trip") else { return };
    if !fetched() {
        assert!(
            std::env::var_os("OCRCHAT_TEST_LLAMACPP").is_none(),
            "the llama.cpp model is missing: scripts/local-llm.sh fetch smollm2 (make test runs it)"
        );
        eprintln!("SKIP llama.cpp round trip: run `scripts/local-llm.sh fetch smollm2` (make test does)");
        return;
    }
    let llama = Llama::start();
    let tmp = TempDir::new("llamacpp");
    let url = format!("{}/v1", llama.base);
    let server = TestServer::start(
        tmp.path(),
        &[
            ("OCRCHAT_LLM_URL", url.as_str()),
            ("OCRCHAT_LLM_MODEL", "smollm2"),
            ("OCRCHAT_LLM_TIMEOUT_SECS", "600"),
            // The request's max_tokens is what llama.cpp obeys: keep answers short.
            ("OCRCHAT_LLM_MAX_OUTPUT_TOKENS", "128"),
            ("OCRCHAT_MODEL", "tiny"),
        ],
    );
    let token = server.create_token("paid", 100);
    let (uuid, pages) = qa::ocr(&server, &token, &dir.join("sroie_000.jpg"));

    // Chat: the configured model answers by default; builtin stays selectable.
    for question in ["What is the total amount of this receipt?", "Which company issued this receipt?"] {
        let (status, reply, took) = qa::ask(&server, &token, &uuid, question, None);
        assert_eq!(status, 200, "{question}: {reply}");
        eprintln!("llama.cpp chat ({:.1} s): {question} → {}", took.as_secs_f64(), reply["message"]);
        let citations = reply["message"]["citations"].as_array().expect("citations array");
        if citations.is_empty() {
            assert_eq!(reply["message"]["content"], ocrchat::llm::NOT_IN_DOCUMENT, "uncited text: {reply}");
        }
        for c in citations {
            let page = c["page"].as_u64().unwrap() as usize;
            let snippet = c["snippet"].as_str().unwrap();
            assert!(page >= 1 && page <= pages.len(), "{c}");
            assert!(pages[page - 1].contains(snippet), "unverified citation {snippet:?}");
        }
    }
    let (status, builtin, _) = qa::ask(&server, &token, &uuid, "What is the total amount?", Some("builtin"));
    assert_eq!(status, 200);
    assert!(!builtin["message"]["citations"].as_array().unwrap().is_empty(), "{builtin}");

    // Translate on the cpu tier: OCR here, the page's Markdown through llama.cpp.
    let bytes = std::fs::read(dir.join("sroie_000.jpg")).unwrap();
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(bytes).file_name("r.jpg"))
        .text("tool", "translate")
        .text("translate_to", "fr");
    let job: Value = qa::client()
        .post(server.url("/api/v1/ocr/"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(job["status"], "done", "{job}");
    let text = job["text"].as_str().unwrap_or_default();
    eprintln!("llama.cpp translation: {:?}", text.chars().take(200).collect::<String>());
    assert!(!text.trim().is_empty(), "the translation came back: {job}");
}
