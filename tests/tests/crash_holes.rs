//! The holes a crash drill found, each closed and kept closed (on SQLite
//! here; the storage story runs the same rules on PostgreSQL):
//! (a) a job interrupted until it gives up refunds every page it charged;
//! (b) a retried `POST` with the same `Idempotency-Key` returns the same job,
//!     charged once, and `GET /api/v1/ocr/` lists the caller's jobs;
//! (c) a finished job's JSON carries an `ETag`, and a poll naming it gets 304.

use std::process::Command;
use std::time::Duration;

use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::{TempDir, TestServer, ocrchat_bin, uploads_left, wait_for};
use ocrchat_tests::testdata_or_skip;
use reqwest::blocking::{Client, RequestBuilder, Response, multipart};
use serde_json::Value;

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(300)).build().unwrap()
}

fn form(name: &str, bytes: &[u8]) -> multipart::Form {
    multipart::Form::new().part("file", multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()))
}

fn authed(req: RequestBuilder, token: &str) -> Response {
    req.bearer_auth(token).send().unwrap()
}

fn json(resp: Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

fn phototest() -> Option<image::RgbImage> {
    let dir = testdata_or_skip("crash_holes")?;
    Some(image::open(dir.join("tess_phototest.png")).unwrap().to_rgb8())
}

/// `used` of account `id` from `ocrchat token list`.
fn used(data_dir: &std::path::Path, id: i64) -> i64 {
    let out = Command::new(ocrchat_bin()).args(["token", "list", "--data-dir"]).arg(data_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let row = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&id.to_string().as_str()))
        .unwrap_or_else(|| panic!("account {id} in {stdout}"));
    row[4].parse().unwrap()
}

#[test]
fn a_job_interrupted_three_times_fails_and_refunds_every_page() {
    let Some(page) = phototest() else { return };
    let tmp = TempDir::new("three-kills");
    let env = [("OCRCHAT_MODEL", "tiny"), ("OCRCHAT_WORKERS", "1")];
    let mut server = TestServer::start(tmp.path(), &env);
    let token = server.create_token("paid", 100);
    let pdf = scanned_pdf(&[&page; 12], 150.0);
    let job = json(authed(client().post(server.url("/api/v1/ocr/")).multipart(form("twelve.pdf", &pdf)), &token));
    let path = format!("/api/v1/ocr/{}/", job["uuid"].as_str().unwrap());
    assert_eq!(used(tmp.path(), 1), 12, "12 pages reserved at submission");

    // Kill the server each time the job made progress, three times.
    let mut last = 0;
    for kill in 1..=3 {
        let progressed = wait_for(Duration::from_secs(240), || {
            let j = json(authed(client().get(server.url(&path)), &token));
            let done = j["pages_done"].as_i64().unwrap();
            (j["status"] == "processing" && done > last).then_some(done)
        });
        last = progressed.unwrap_or_else(|| panic!("no progress before kill {kill}"));
        assert!(last < 12, "the job must still be running at kill {kill} ({last} pages)");
        server.kill9();
        server = TestServer::start(tmp.path(), &env);
    }
    // The restart after the third interruption gives up on the job.
    let j = json(authed(client().get(server.url(&path)), &token));
    assert_eq!(j["status"], "failed", "{j}");
    assert!(j["error"].as_str().unwrap().contains("interrupted 3 times"), "{j}");
    let download = authed(client().get(server.url(&format!("{path}download/?format=txt"))), &token);
    assert_eq!(download.status(), 409, "a failed job delivers no page");
    assert_eq!(used(tmp.path(), 1), 0, "every undelivered page is refunded ({last} had been checkpointed)");
    assert!(uploads_left(tmp.path()).is_empty(), "{:?}", uploads_left(tmp.path()));
}

#[test]
fn a_retried_submission_returns_the_same_job_charged_once_and_the_caller_can_list_jobs() {
    let Some(page) = phototest() else { return };
    let tmp = TempDir::new("idempotency");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_MODEL", "tiny")]);
    let token = server.create_token("free", 0);
    let png = {
        let mut bytes = Vec::new();
        let small = image::imageops::crop_imm(&page, 0, 0, page.width(), page.height() / 3).to_image();
        image::DynamicImage::ImageRgb8(small)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    };
    let post = |key: Option<&str>| {
        let mut req = client().post(server.url("/api/v1/ocr/")).multipart(form("a.png", &png));
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        authed(req, &token)
    };
    let first = json(post(Some("upload-42")));
    let retry = json(post(Some("upload-42")));
    assert_eq!(first["uuid"], retry["uuid"], "the retry names the first job");
    assert_eq!(retry["status"], "done");
    assert_eq!(used(tmp.path(), 1), 1, "charged once");
    let no_file = client()
        .post(server.url("/api/v1/ocr/"))
        .header("Idempotency-Key", "upload-42")
        .multipart(multipart::Form::new().text("language", "en"));
    assert_eq!(authed(no_file, &token).status(), 400, "a request without a file is refused whatever its key");
    // Jobs are timed in seconds: a pause makes "newest first" observable.
    std::thread::sleep(Duration::from_millis(1100));
    let other = json(post(Some("upload-43")));
    std::thread::sleep(Duration::from_millis(1100));
    assert_ne!(other["uuid"], first["uuid"]);
    let plain = json(post(None));
    assert_eq!(used(tmp.path(), 1), 3);
    let bad = post(Some(&"x".repeat(300)));
    assert_eq!(bad.status(), 400);

    // The caller's jobs, newest first, two per page.
    let mut listed = Vec::new();
    let mut query = "/api/v1/ocr/?limit=2".to_string();
    loop {
        let page = json(authed(client().get(server.url(&query)), &token));
        listed.extend(page["jobs"].as_array().unwrap().iter().map(|j| j["uuid"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => query = format!("/api/v1/ocr/?limit=2&cursor={next}"),
            None => break,
        }
    }
    for bad in ["cursor=", "cursor=k", "cursor=1_XYZ", "limit=0", "limit=101", "limit=ten"] {
        let refused = authed(client().get(server.url(&format!("/api/v1/ocr/?{bad}"))), &token);
        assert_eq!(refused.status(), 400, "{bad} is refused");
    }
    let want: Vec<String> = [&plain, &other, &first].iter().map(|j| j["uuid"].as_str().unwrap().to_string()).collect();
    assert_eq!(listed, want, "every job of the caller, once, newest first");
    let anon = json(client().get(server.url("/api/v1/ocr/")).send().unwrap());
    assert!(anon["jobs"].as_array().unwrap().is_empty(), "another caller sees none of them");
}

#[test]
fn a_second_poll_of_a_done_job_is_304_with_its_etag() {
    let Some(page) = phototest() else { return };
    let tmp = TempDir::new("etag");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_MODEL", "tiny")]);
    let token = server.create_token("paid", 10);
    let pdf = scanned_pdf(&[&page, &page], 150.0);
    let job = json(authed(client().post(server.url("/api/v1/ocr/")).multipart(form("two.pdf", &pdf)), &token));
    assert_eq!(job["status"], "done");
    let path = format!("/api/v1/ocr/{}/", job["uuid"].as_str().unwrap());
    let first = authed(client().get(server.url(&path)), &token);
    let etag = first.headers().get("etag").expect("ETag on a done job").to_str().unwrap().to_string();
    let body = first.text().unwrap();
    assert!(body.contains("\"status\":\"done\""));
    let again = authed(client().get(server.url(&path)).header("If-None-Match", &etag), &token);
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers().get("etag").unwrap().to_str().unwrap(), etag);
    assert!(again.bytes().unwrap().is_empty());
    let stale = authed(client().get(server.url(&path)).header("If-None-Match", "\"other\""), &token);
    assert_eq!(stale.status(), 200);
    assert_eq!(stale.text().unwrap(), body, "the stored JSON, byte for byte");
}
