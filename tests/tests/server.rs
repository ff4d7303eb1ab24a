//! The API server over real HTTP: a real `ocrchat serve` process on a free
//! loopback port with its own SQLite database, real models, real files.
//! Covers the contract in shared/spec/ocrchat-api.md: inline and queued
//! jobs, every export, every error status, metering per plan, privacy of
//! jobs, crash recovery (`kill -9` mid-job) and upload deletion.

use std::time::Duration;

use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::{TempDir, TestServer, uploads_left, wait_for};
use ocrchat_tests::{bow_f1, testdata_or_skip};
use reqwest::blocking::{Client, Response, multipart};
use serde_json::Value;

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(300)).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// POSTs a file with form fields; `token` as Bearer. The form goes as a body
/// of known length: reqwest's blocking multipart body is pumped from another
/// thread, and when the server answers the instant it has read what it needs
/// (a refused file type, a 413 after draining), that thread can find the
/// connection gone and turn the answer into a send error.
fn submit(server: &TestServer, token: Option<&str>, name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Response {
    let boundary = "ocrchat-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = client()
        .post(server.url("/api/v1/ocr/"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().unwrap()
}

fn get(server: &TestServer, token: Option<&str>, path: &str) -> Response {
    let mut req = client().get(server.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().unwrap()
}

/// Asserts status and the spec's error body; returns the body.
fn expect_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "expected {status} {code}");
    assert!(resp.headers().contains_key("x-request-id"), "every response carries X-Request-Id");
    let body: Value = resp.json().expect("error body is JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

fn job_json(resp: Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn phototest() -> Option<(Vec<u8>, String)> {
    let dir = testdata_or_skip("server")?;
    Some((
        std::fs::read(dir.join("tess_phototest.png")).unwrap(),
        std::fs::read_to_string(dir.join("tess_phototest.txt")).unwrap(),
    ))
}

/// A scanned PDF of `n` copies of the phototest page.
fn phototest_pdf(n: usize) -> Vec<u8> {
    let dir = ocrchat_tests::testdata_dir().expect("checked by caller");
    let img = image::open(dir.join("tess_phototest.png")).unwrap().to_rgb8();
    scanned_pdf(&vec![&img; n], 200.0)
}

#[test]
fn image_is_done_inline_and_downloads_in_every_format() {
    let Some((png, gt)) = phototest() else { return };
    let tmp = TempDir::new("inline");
    let server = TestServer::start(tmp.path(), &[]);
    let resp = submit(&server, None, "tess_phototest.png", png, &[("language", "en")]);
    assert!(resp.headers().contains_key("x-request-id"));
    let job = job_json(resp);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["tier"], "cpu");
    assert_eq!(job["language"], "en");
    assert_eq!(job["page_count"], 1);
    let text = job["text"].as_str().unwrap();
    let f1 = bow_f1(text, &gt);
    assert!(f1 > 0.9, "BoW-F1 {f1:.3}: {text}");
    assert!(job["mean_confidence"].as_f64().unwrap() > 0.8);
    assert!(!job["markdown"].as_str().unwrap().is_empty());
    let page = &job["pages"][0];
    assert_eq!(page["index"], 0);
    assert_eq!((page["width"].as_u64(), page["height"].as_u64()), (Some(640), Some(480)));
    let blocks = page["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty());
    for b in blocks {
        let bbox: Vec<u64> = b["bbox"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert!(
            bbox.len() == 4 && bbox[0] < bbox[2] && bbox[1] < bbox[3] && bbox[2] <= 640 && bbox[3] <= 480,
            "{bbox:?}"
        );
        assert!(b["confidence"].as_f64().unwrap() > 0.0);
    }
    let uuid = job["uuid"].as_str().unwrap();
    assert!(uploads_left(tmp.path()).is_empty(), "upload deleted once processed: {:?}", uploads_left(tmp.path()));

    let polled = job_json(get(&server, None, &format!("/api/v1/ocr/{uuid}/")));
    assert_eq!(polled["text"], job["text"]);

    let formats: &[(&str, &str)] = &[
        ("txt", "text/plain"),
        ("md", "text/markdown"),
        ("json", "application/json"),
        ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("csv", "text/csv"),
        ("pdf", "application/pdf"),
    ];
    for (format, mime) in formats {
        let resp = get(&server, None, &format!("/api/v1/ocr/{uuid}/download/?format={format}"));
        assert_eq!(resp.status(), 200, "{format}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(mime), "{format}: {ct}");
        let cd = resp.headers()["content-disposition"].to_str().unwrap().to_string();
        assert_eq!(cd, format!("attachment; filename=\"tess_phototest.{format}\""));
        let body = resp.bytes().unwrap();
        match *format {
            "txt" => assert_eq!(std::str::from_utf8(&body).unwrap().trim_end(), text.trim_end()),
            "md" => assert_eq!(std::str::from_utf8(&body).unwrap(), job["markdown"].as_str().unwrap()),
            "json" => assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["uuid"], uuid),
            "docx" => assert!(body.starts_with(b"PK\x03\x04"), "docx is a zip"),
            "csv" => {
                let rows = std::str::from_utf8(&body).unwrap().lines().filter(|l| !l.is_empty()).count();
                assert!(rows >= 5, "one row per line without tables: {rows}");
            }
            "pdf" => assert!(body.starts_with(b"%PDF-") && body.len() > 1000),
            _ => unreachable!(),
        }
    }
    expect_error(get(&server, None, &format!("/api/v1/ocr/{uuid}/download/?format=xls")), 400, "invalid_format");
    expect_error(get(&server, None, &format!("/api/v1/ocr/{uuid}/download/")), 400, "invalid_format");
}

#[test]
fn every_error_status_has_the_spec_body() {
    let Some((png, _)) = phototest() else { return };
    let tmp = TempDir::new("errors");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_MAX_UPLOAD_BYTES", "100000")]);
    let token = server.create_token("free", 0);

    // 400s
    let form = multipart::Form::new().text("tier", "cpu");
    expect_error(client().post(server.url("/api/v1/ocr/")).multipart(form).send().unwrap(), 400, "no_file");
    expect_error(client().post(server.url("/api/v1/ocr/")).body("{}").send().unwrap(), 400, "no_file");
    expect_error(submit(&server, None, "empty.png", Vec::new(), &[]), 400, "empty_file");
    expect_error(
        submit(&server, None, "notes.png", b"just some text, not an image".to_vec(), &[]),
        400,
        "unsupported_type",
    );
    expect_error(submit(&server, None, "a.png", png.clone(), &[("tier", "gpu")]), 400, "invalid_tier");
    expect_error(submit(&server, None, "a.png", png.clone(), &[("language", "xx")]), 400, "unsupported_language");
    expect_error(submit(&server, None, "a.png", png.clone(), &[("tool", "nope")]), 400, "unknown_tool");
    expect_error(
        submit(&server, None, "a.png", png.clone(), &[("tool", "handwriting-to-text")]),
        400,
        "tool_needs_other_tier",
    );
    expect_error(submit(&server, None, "a.png", png.clone(), &[("translate_to", "de")]), 400, "invalid_field");
    // 413 while streaming: 150 kB over a 100 kB limit.
    let big = [png.clone(), vec![0u8; 150_000]].concat();
    expect_error(submit(&server, None, "big.png", big, &[]), 413, "file_too_large");
    // 401: unknown token, by header and by query; chat needs an account.
    expect_error(submit(&server, Some("ocr_not_a_token"), "a.png", png.clone(), &[]), 401, "invalid_token");
    expect_error(get(&server, None, "/api/v1/ocr/0123/?api_token=nope"), 401, "invalid_token");
    let job = job_json(submit(&server, Some(&token), "a.png", png.clone(), &[]));
    let uuid = job["uuid"].as_str().unwrap();
    let chat = |t: Option<&str>, body: &str| {
        let mut req = client()
            .post(server.url(&format!("/api/v1/chat/{uuid}/")))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = t {
            req = req.bearer_auth(t);
        }
        req.send().unwrap()
    };
    expect_error(chat(None, r#"{"message": "hi"}"#), 401, "token_required");
    expect_error(chat(Some(&token), r#"{"message": "  "}"#), 400, "empty_message");
    // 404: unknown job, and the same for a job of another caller.
    expect_error(get(&server, Some(&token), "/api/v1/ocr/00000000000000000000000000000000/"), 404, "not_found");
    expect_error(get(&server, None, &format!("/api/v1/ocr/{uuid}/")), 404, "not_found");
    // 501: vlm is not configured on this server.
    expect_error(submit(&server, Some(&token), "a.png", png.clone(), &[("tier", "vlm")]), 501, "not_configured");
    // The query-parameter token works like the header.
    let by_query = job_json(get(&server, None, &format!("/api/v1/ocr/{uuid}/?api_token={token}")));
    assert_eq!(by_query["uuid"], uuid);
    // A file that sniffs as PNG but is truncated fails as a job, uncharged.
    if let Some(dir) = ocrchat_tests::testdata_dir() {
        let truncated = std::fs::read(dir.join("bad/truncated_image.png")).unwrap();
        let failed = job_json(submit(&server, Some(&token), "t.png", truncated, &[]));
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    assert!(uploads_left(tmp.path()).is_empty(), "{:?}", uploads_left(tmp.path()));
}

#[test]
fn metering_refuses_with_402_used_and_cap_for_each_plan() {
    let Some((png, _)) = phototest() else { return };
    let tmp = TempDir::new("metering");
    let server = TestServer::start(
        tmp.path(),
        &[
            ("OCRCHAT_ANON_DAILY_PAGES", "2"),
            ("OCRCHAT_ANON_MAX_PAGES_PER_FILE", "2"),
            ("OCRCHAT_FREE_MONTHLY_PAGES", "3"),
            ("OCRCHAT_FREE_MAX_PAGES_PER_FILE", "3"),
            ("OCRCHAT_MODEL", "tiny"),
        ],
    );
    let pdf3 = phototest_pdf(3);
    let pdf2 = phototest_pdf(2);
    let over = |resp: Response, used: i64, cap: i64| {
        let body = expect_error(resp, 402, "quota_exceeded");
        assert_eq!((body["used"].as_i64(), body["cap"].as_i64()), (Some(used), Some(cap)), "{body}");
    };

    // Anonymous: 2 pages a day, 2 pages per file.
    expect_error(submit(&server, None, "three.pdf", pdf3.clone(), &[]), 400, "too_many_pages");
    assert_eq!(job_json(submit(&server, None, "a.png", png.clone(), &[]))["status"], "done");
    over(submit(&server, None, "two.pdf", pdf2.clone(), &[]), 1, 2);
    // A job that fails is not charged.
    if let Some(dir) = ocrchat_tests::testdata_dir() {
        let truncated = std::fs::read(dir.join("bad/truncated_image.png")).unwrap();
        assert_eq!(job_json(submit(&server, None, "t.png", truncated, &[]))["status"], "failed");
    }
    assert_eq!(job_json(submit(&server, None, "a.png", png.clone(), &[]))["status"], "done");
    over(submit(&server, None, "a.png", png.clone(), &[]), 2, 2);

    // Free: 3 pages a month.
    let free = server.create_token("free", 0);
    assert_eq!(job_json(submit(&server, Some(&free), "three.pdf", pdf3.clone(), &[]))["page_count"], 3);
    over(submit(&server, Some(&free), "a.png", png.clone(), &[]), 3, 3);

    // Paid: its credits (here 4), larger files allowed.
    let paid = server.create_token("paid", 4);
    assert_eq!(job_json(submit(&server, Some(&paid), "three.pdf", pdf3.clone(), &[]))["status"], "done");
    over(submit(&server, Some(&paid), "two.pdf", pdf2, &[]), 3, 4);
    assert_eq!(job_json(submit(&server, Some(&paid), "a.png", png, &[]))["status"], "done");
}

#[test]
fn jobs_are_visible_only_to_their_owner_and_revoked_tokens_fail() {
    let Some((png, _)) = phototest() else { return };
    let tmp = TempDir::new("privacy");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_MODEL", "tiny")]);
    let alice = server.create_token("free", 0);
    let bob = server.create_token("paid", 10);
    let job = job_json(submit(&server, Some(&alice), "a.png", png, &[]));
    let uuid = job["uuid"].as_str().unwrap();
    assert_eq!(job_json(get(&server, Some(&alice), &format!("/api/v1/ocr/{uuid}/")))["uuid"], uuid);
    for path in [format!("/api/v1/ocr/{uuid}/"), format!("/api/v1/ocr/{uuid}/download/?format=txt")] {
        expect_error(get(&server, Some(&bob), &path), 404, "not_found");
        expect_error(get(&server, None, &path), 404, "not_found");
    }
    let out = std::process::Command::new(ocrchat_tests::server::ocrchat_bin())
        .args(["token", "revoke", &alice, "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    expect_error(get(&server, Some(&alice), &format!("/api/v1/ocr/{uuid}/")), 401, "invalid_token");
    // Tokens are stored hashed: the database file never contains one.
    let db = std::fs::read(tmp.path().join("ocrchat.sqlite3")).unwrap();
    let wal = std::fs::read(tmp.path().join("ocrchat.sqlite3-wal")).unwrap_or_default();
    for token in [&alice, &bob] {
        let needle = token.as_bytes();
        assert!(!db.windows(needle.len()).any(|w| w == needle) && !wal.windows(needle.len()).any(|w| w == needle));
    }
}

#[test]
/// Two workers: the job's pages are read two at a time on the inference
/// pool and checkpointed as they finish (in any order); the result is still
/// every page in order with its text, after a crash mid-job too.
fn large_pdf_is_queued_polled_read_two_pages_at_a_time_and_survives_a_crash() {
    let Some((png, gt)) = phototest() else { return };
    let tmp = TempDir::new("queue");
    let env = [("OCRCHAT_MODEL", "tiny"), ("OCRCHAT_WORKERS", "2"), ("OCRCHAT_MAX_INFLIGHT_PER_CALLER", "1")];
    let server = TestServer::start(tmp.path(), &env);
    let token = server.create_token("paid", 100);
    let pdf = phototest_pdf(16);

    let job = job_json(submit(&server, Some(&token), "sixteen.pdf", pdf, &[]));
    assert!(matches!(job["status"].as_str(), Some("pending" | "processing")), "{}", job["status"]);
    assert_eq!(job["page_count"], 16);
    let uuid = job["uuid"].as_str().unwrap().to_string();
    let path = format!("/api/v1/ocr/{uuid}/");
    // The caller's queued job counts against its in-flight limit of 1.
    let busy = submit(&server, Some(&token), "a.png", png, &[]);
    assert!(busy.headers().get("retry-after").is_some());
    expect_error(busy, 429, "too_many_requests");
    expect_error(get(&server, Some(&token), &format!("{path}download/?format=txt")), 409, "not_ready");

    // Poll until a few pages are in, then crash the server.
    let mut seen = vec![job["status"].as_str().unwrap().to_string()];
    let mut last_done = 0;
    let progressed = wait_for(Duration::from_secs(240), || {
        let j = job_json(get(&server, Some(&token), &path));
        let done = j["pages_done"].as_i64().unwrap();
        assert!(done >= last_done, "pages_done never goes back");
        last_done = done;
        seen.push(j["status"].as_str().unwrap().to_string());
        (j["status"] == "processing" && done >= 2).then_some(done)
    });
    let done_before = progressed.expect("the job progressed while polled");
    assert!(done_before < 16, "the crash must happen mid-job");
    assert_eq!(inference_peak(&server), 2, "two pages of the one job were read at once, never more");
    assert_eq!(uploads_left(tmp.path()).len(), 1, "the upload is kept until the job finishes");
    server.kill9();

    let server = TestServer::start(tmp.path(), &env);
    let finished = wait_for(Duration::from_secs(300), || {
        let j = job_json(get(&server, Some(&token), &path));
        seen.push(j["status"].as_str().unwrap().to_string());
        matches!(j["status"].as_str(), Some("done" | "failed")).then_some(j)
    })
    .expect("the job finishes after the restart");
    assert_eq!(finished["status"], "done", "{}", finished["error"]);
    assert!(seen.iter().any(|s| s == "processing"), "{seen:?}");
    assert_eq!(finished["page_count"], 16);
    assert_eq!(finished["pages_done"], 16, "checkpointed pages were not redone or lost");
    let pages = finished["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 16);
    for (i, page) in pages.iter().enumerate() {
        assert_eq!(page["index"], i);
        let f1 = bow_f1(page["text"].as_str().unwrap(), &gt);
        assert!(f1 > 0.85, "page {i}: BoW-F1 {f1:.3}");
    }
    assert_eq!(finished["text"].as_str().unwrap().matches('\u{c}').count(), 15, "form feed between pages");
    assert!(uploads_left(tmp.path()).is_empty(), "{:?}", uploads_left(tmp.path()));
    let pdf = get(&server, Some(&token), &format!("{path}download/?format=pdf"));
    assert_eq!(pdf.status(), 200);
    assert!(pdf.bytes().unwrap().starts_with(b"%PDF-"));
    assert!(inference_peak(&server) <= 2, "never more pages at once than workers");
}

/// `ocrchat_inference_peak` from `/metrics`: the most pages read at once.
fn inference_peak(server: &TestServer) -> i64 {
    let metrics = get(server, None, "/metrics").text().unwrap();
    let line =
        metrics.lines().find(|l| l.starts_with("ocrchat_inference_peak ")).unwrap_or_else(|| panic!("{metrics}"));
    line.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()).expect("a number") as i64
}

#[test]
fn operations_endpoints_answer() {
    let tmp = TempDir::new("ops");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_MODEL", "tiny")]);
    assert_eq!(get(&server, None, "/healthz").text().unwrap(), "ok");
    assert_eq!(get(&server, None, "/readyz").status(), 200);
    let openapi: Value = get(&server, None, "/openapi.json").json().unwrap();
    for path in ["/api/v1/ocr/", "/api/v1/ocr/{uuid}/", "/api/v1/ocr/{uuid}/download/", "/api/v1/chat/{uuid}/"] {
        assert!(openapi["paths"][path].is_object(), "{path} in openapi.json");
    }
    assert!(openapi["components"]["schemas"]["JobView"].is_object());
    let tools: Value = get(&server, None, "/api/v1/tools/").json().unwrap();
    let slugs: Vec<&str> = tools["tools"].as_array().unwrap().iter().filter_map(|t| t["slug"].as_str()).collect();
    assert!(slugs.contains(&"extract-tables") && slugs.contains(&"translate"), "{slugs:?}");
    let langs: Value = get(&server, None, "/api/v1/languages/").json().unwrap();
    let codes: Vec<&str> = langs["languages"].as_array().unwrap().iter().filter_map(|l| l["code"].as_str()).collect();
    assert!(codes.contains(&"en") && codes.contains(&"zh"), "{codes:?}");
    let redirect = get(&server, None, "/api/v1/tools");
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/api/v1/tools/");
    let metrics = get(&server, None, "/metrics").text().unwrap();
    assert!(metrics.contains("ocrchat_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/tools/\""), "{metrics}");
    expect_error(get(&server, None, "/api/v1/nothing/"), 404, "not_found");
}

#[test]
fn cors_admits_the_widget_and_api_clients_of_other_origins() {
    let tmp = TempDir::new("cors");
    // A stand-in web app directory: only which paths get CORS headers matters here.
    let web = tmp.path().join("web");
    std::fs::create_dir_all(&web).unwrap();
    for f in ["index.html", "worker.js", "worker_bg.wasm", "worker_loader.js", "widget.js", "sw.js"] {
        std::fs::write(web.join(f), f).unwrap();
    }
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let server = TestServer::start(&data, &[("OCRCHAT_MODEL", "tiny"), ("OCRCHAT_WEB_DIR", web.to_str().unwrap())]);
    let origin = "http://someone-elses-site.example";
    let send = |method: reqwest::Method, path: &str, headers: &[(&str, &str)]| {
        let mut req = client().request(method, server.url(path)).header("origin", origin);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().unwrap()
    };
    // Every value of the header (`Vary` comes twice: accept-encoding from the static files, origin from CORS).
    let header = |resp: &Response, name: &str| {
        let values: Vec<String> =
            resp.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_ascii_lowercase()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    };

    // Preflight of a browser API call with a Bearer token and a JSON body.
    for path in ["/api/v1/ocr/", "/api/v1/chat/0123456789abcdef0123456789abcdef/"] {
        let pre = send(
            reqwest::Method::OPTIONS,
            path,
            &[
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization,content-type"),
            ],
        );
        assert!(pre.status().is_success(), "preflight {path}: {}", pre.status());
        assert_eq!(header(&pre, "access-control-allow-origin").as_deref(), Some(origin), "{path}");
        let methods = header(&pre, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("post") && methods.contains("get"), "{path}: {methods}");
        let allowed = header(&pre, "access-control-allow-headers").unwrap_or_default();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{path}: {allowed}");
        assert!(header(&pre, "access-control-max-age").is_some(), "{path}");
        // Tokens, never cookies: credentials mode is not allowed.
        assert_eq!(header(&pre, "access-control-allow-credentials"), None, "{path}");
    }

    // GETs: the API (errors too, so a page can read a 402's numbers), the
    // widget's files and the models carry the header.
    let api = send(reqwest::Method::GET, "/api/v1/tools/", &[]);
    assert_eq!(api.status(), 200);
    assert_eq!(header(&api, "access-control-allow-origin").as_deref(), Some(origin));
    let exposed = header(&api, "access-control-expose-headers").unwrap_or_default();
    for h in ["x-request-id", "retry-after", "content-disposition"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    let missing = send(
        reqwest::Method::GET,
        "/api/v1/ocr/0123456789abcdef0123456789abcdef/",
        &[("authorization", "Bearer nope")],
    );
    assert_eq!(missing.status(), 401);
    assert_eq!(header(&missing, "access-control-allow-origin").as_deref(), Some(origin), "error responses too");
    for path in ["/widget.js", "/worker.js", "/worker_bg.wasm", "/worker_loader.js", "/models/manifest.json"] {
        let resp = send(reqwest::Method::GET, path, &[]);
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "access-control-allow-origin").as_deref(), Some(origin), "{path}");
        assert!(header(&resp, "vary").unwrap_or_default().contains("origin"), "{path}: the answer depends on Origin");
    }
    assert_eq!(
        header(&send(reqwest::Method::GET, "/worker_bg.wasm", &[]), "content-type").as_deref(),
        Some("application/wasm"),
        "WebAssembly.instantiateStreaming needs the wasm type"
    );

    // Everything else keeps the same-origin default.
    for path in ["/", "/index.html", "/sw.js", "/metrics", "/openapi.json", "/healthz"] {
        let resp = send(reqwest::Method::GET, path, &[]);
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "access-control-allow-origin"), None, "{path}");
    }
    let pre = send(reqwest::Method::OPTIONS, "/metrics", &[("access-control-request-method", "GET")]);
    assert_eq!(header(&pre, "access-control-allow-origin"), None, "preflight of /metrics");
}

#[test]
fn results_expire_after_the_retention_period() {
    let Some((png, _)) = phototest() else { return };
    let tmp = TempDir::new("retention");
    // Zero hours: a finished job expires at the next sweep (every second here).
    let server = TestServer::start(
        tmp.path(),
        &[("OCRCHAT_MODEL", "tiny"), ("OCRCHAT_RETENTION_HOURS", "0"), ("OCRCHAT_SWEEP_INTERVAL_SECS", "1")],
    );
    let job = job_json(submit(&server, None, "a.png", png, &[]));
    assert_eq!(job["status"], "done");
    let path = format!("/api/v1/ocr/{}/", job["uuid"].as_str().unwrap());
    let gone = wait_for(Duration::from_secs(30), || (get(&server, None, &path).status() == 404).then_some(()));
    assert!(gone.is_some(), "the expired job is deleted");
    let results: Vec<_> = std::fs::read_dir(tmp.path().join("results")).unwrap().collect();
    assert!(results.is_empty(), "its searchable PDF is deleted with it");
}
