//! The OCR.chat documentation's own client examples (Python `requests`,
//! Node.js `fetch`, cURL — copied verbatim into `tests/clients/`) run against
//! a real `ocrchat serve`, changing only the base URL, the token and the file
//! name; plus the vlm tier and grounded chat end to end. The examples use
//! `tier=vlm`, so the server talks to `fake_llm`, a local stand-in for an
//! OpenAI-compatible vision endpoint (the one external service we cannot
//! run here).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::{FakeLlm, TempDir, TestServer, uploads_left};
use ocrchat_tests::{testdata_or_skip, workspace_root};
use reqwest::blocking::{Client, multipart};
use serde_json::{Value, json};

struct Setup {
    _fake: FakeLlm,
    _tmp: TempDir,
    server: TestServer,
    work: TempDir,
}

fn setup(name: &str, extra: &[(&str, &str)]) -> Setup {
    let fake = FakeLlm::start();
    let tmp = TempDir::new(name);
    let mut env: Vec<(&str, String)> = fake.server_env();
    env.push(("OCRCHAT_MODEL", "tiny".into()));
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_string())));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start(tmp.path(), &env_refs);
    Setup { _fake: fake, _tmp: tmp, server, work: TempDir::new(&format!("{name}-client")) }
}

/// A docs example with only the base URL, token and file name replaced.
fn example(file: &str, base: &str, token: &str, input: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join("tests/clients").join(file)).unwrap();
    assert!(text.contains("https://ocr.chat") && text.contains("YOUR_API_TOKEN") && text.contains("invoice.pdf"));
    text.replace("https://ocr.chat", base).replace("YOUR_API_TOKEN", token).replace("invoice.pdf", input)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "client failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn api(server: &TestServer, token: &str, path: &str) -> Value {
    let resp = Client::new().get(server.url(path)).bearer_auth(token).send().unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().unwrap()
}

fn phototest_png(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("tess_phototest.png")).unwrap()
}

#[test]
fn python_example_polls_a_vlm_job_and_downloads_docx() {
    let Some(dir) = testdata_or_skip("python client example") else { return };
    let Ok(python) = std::env::var("OCRCHAT_TEST_PYTHON") else {
        eprintln!(
            "SKIP python client example: OCRCHAT_TEST_PYTHON (a python with requests) is not set; `make test` sets it"
        );
        return;
    };
    let s = setup("client-py", &[]);
    let token = s.server.create_token("paid", 100);
    // 7 pages: more than the 5 answered inline, so the example's poll loop runs.
    let img = image::open(dir.join("tess_phototest.png")).unwrap().to_rgb8();
    std::fs::write(s.work.path().join("scan.pdf"), scanned_pdf(&[&img; 7], 200.0)).unwrap();
    let script = example("example.py", &s.server.base, &token, "scan.pdf");
    std::fs::write(s.work.path().join("example.py"), script).unwrap();
    let stdout = run(Command::new(python).arg("example.py").current_dir(s.work.path()));

    // It printed the job's markdown: the fake VLM's transcription of 7 pages.
    assert_eq!(stdout.matches("| width |").count(), 7, "{stdout}");
    let docx = std::fs::read(s.work.path().join("result.docx")).unwrap();
    assert!(docx.starts_with(b"PK\x03\x04"), "result.docx is a zip (Word document)");
    assert!(docx.windows(17).any(|w| w == b"word/document.xml"));
    assert!(uploads_left(&s.server.data_dir).is_empty());
}

#[test]
fn node_example_submits_and_prints_markdown() {
    let Some(dir) = testdata_or_skip("node client example") else { return };
    let s = setup("client-node", &[]);
    let token = s.server.create_token("free", 0);
    std::fs::write(s.work.path().join("page.png"), phototest_png(&dir)).unwrap();
    std::fs::write(s.work.path().join("example.mjs"), example("example.mjs", &s.server.base, &token, "page.png"))
        .unwrap();
    let stdout = run(Command::new("node").arg("example.mjs").current_dir(s.work.path()));
    assert!(
        stdout.contains("| width | 640 |") && stdout.contains("| height | 480 |"),
        "the VLM saw the page: {stdout}"
    );
}

#[test]
fn curl_example_submits_polls_and_downloads() {
    let Some(dir) = testdata_or_skip("curl client example") else { return };
    let s = setup("client-curl", &[]);
    let token = s.server.create_token("free", 0);
    std::fs::write(s.work.path().join("page.png"), phototest_png(&dir)).unwrap();
    let script = example("example.sh", &s.server.base, &token, "page.png");
    let steps: Vec<&str> = script.split("\n# ").filter(|s| s.starts_with(|c: char| c.is_ascii_digit())).collect();
    assert_eq!(steps.len(), 3, "submit, poll, download");
    let bash = |step: &str| run(Command::new("bash").arg("-ec").arg(format!("# {step}")).current_dir(s.work.path()));
    let submitted: Value = serde_json::from_str(&bash(steps[0])).unwrap();
    assert_eq!(submitted["status"], "done", "{submitted}");
    let uuid = submitted["uuid"].as_str().unwrap();
    let polled: Value = serde_json::from_str(&bash(&steps[1].replace("UUID", uuid))).unwrap();
    assert_eq!(polled["uuid"], uuid);
    assert_eq!(polled["tier"], "vlm");
    assert_eq!(polled["pages"][0]["source"], "vlm");
    bash(&steps[2].replace("UUID", uuid));
    let md = std::fs::read_to_string(s.work.path().join("result.md")).unwrap();
    assert_eq!(md.trim_end(), polled["markdown"].as_str().unwrap().trim_end());
    assert!(md.contains("640"), "{md}");
}

#[test]
fn vlm_tier_is_metered_at_its_page_cost_and_validates_tools() {
    let Some(dir) = testdata_or_skip("vlm metering") else { return };
    let s = setup("vlm-meter", &[("OCRCHAT_VLM_PAGE_COST", "5")]);
    let token = s.server.create_token("paid", 7);
    let submit = |fields: &[(&str, &str)]| {
        let mut form =
            multipart::Form::new().part("file", multipart::Part::bytes(phototest_png(&dir)).file_name("p.png"));
        for (k, v) in fields {
            form = form.text((*k).to_string(), (*v).to_string());
        }
        Client::new().post(s.server.url("/api/v1/ocr/")).bearer_auth(&token).multipart(form).send().unwrap()
    };
    let bad = submit(&[("tier", "vlm"), ("tool", "translate")]);
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().unwrap()["error"], "missing_translate_to");
    let translated = submit(&[("tier", "vlm"), ("tool", "translate"), ("translate_to", "de")]);
    assert_eq!(translated.status(), 200);
    let job: Value = translated.json().unwrap();
    assert_eq!((job["tool"].as_str(), job["translate_to"].as_str()), (Some("translate"), Some("de")));
    assert!(job["markdown"].as_str().unwrap().contains("de"), "{job}");
    let over = submit(&[("tier", "vlm")]);
    assert_eq!(over.status(), 402);
    let body: Value = over.json().unwrap();
    assert_eq!((body["used"].as_i64(), body["cap"].as_i64()), (Some(5), Some(7)), "a vlm page costs 5: {body}");
}

#[test]
fn chat_answers_from_the_document_with_verbatim_citations() {
    let Some(dir) = testdata_or_skip("chat") else { return };
    let s = setup("chat", &[]);
    let token = s.server.create_token("free", 0);
    let form = multipart::Form::new().part("file", multipart::Part::bytes(phototest_png(&dir)).file_name("p.png"));
    let job: Value = Client::new()
        .post(s.server.url("/api/v1/ocr/"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(job["status"], "done");
    let uuid = job["uuid"].as_str().unwrap();
    let page_text = job["pages"][0]["text"].as_str().unwrap().to_string();
    let chat = |body: Value| {
        Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap()
            .post(s.server.url(&format!("/api/v1/chat/{uuid}/")))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .unwrap()
    };

    let resp = chat(json!({"message": "What did the quick brown dog jump over?"}));
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().unwrap();
    let conversation = answer["conversation"].as_str().unwrap().to_string();
    assert_eq!(answer["message"]["role"], "assistant");
    let citations = answer["message"]["citations"].as_array().unwrap();
    assert!(!citations.is_empty(), "{answer}");
    for c in citations {
        assert_eq!(c["page"], 1);
        let snippet = c["snippet"].as_str().unwrap();
        assert!(page_text.contains(snippet), "snippet {snippet:?} occurs verbatim in page 1");
    }

    let unanswerable: Value =
        chat(json!({"message": "Which currency is the invoice total in?", "conversation": conversation}))
            .json()
            .unwrap();
    assert_eq!(unanswerable["conversation"], conversation.as_str());
    assert!(
        unanswerable["message"]["citations"].as_array().unwrap().is_empty(),
        "no invented citation: {unanswerable}"
    );

    let unknown = chat(json!({"message": "hi", "conversation": "nope"}));
    assert_eq!(unknown.status(), 404);
    let history = api(&s.server, &token, &format!("/api/v1/chat/{uuid}/history/"));
    let roles: Vec<&str> = history["messages"].as_array().unwrap().iter().filter_map(|m| m["role"].as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(history["messages"][0]["content"], "What did the quick brown dog jump over?");
    // Another account sees neither the job nor its chat.
    let other = s.server.create_token("free", 0);
    let resp =
        Client::new().get(s.server.url(&format!("/api/v1/chat/{uuid}/history/"))).bearer_auth(&other).send().unwrap();
    assert_eq!(resp.status(), 404);
}
