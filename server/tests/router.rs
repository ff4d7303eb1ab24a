//! `api::router` in-process (`tower::ServiceExt::oneshot`, no socket): routing,
//! auth and the mapping of every failure to its status and JSON body, over
//! real SQLite in a temporary directory and the real engine models. What only
//! a real process shows (ports, crash recovery, the queue) is tested on the
//! release binary in `tests/tests/server.rs`.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use ocrchat::auth::{new_token, token_hash, token_prefix};
use ocrchat::blobs::local::LocalBlobs;
use ocrchat::config::Config;
use ocrchat::state::AppState;
use ocrchat::store::sqlite::SqliteStore;
use ocrchat::store::{Plan, Storage};
use ocrchat_tests::server::TempDir;
use serde_json::Value;
use tower::ServiceExt;

struct App {
    router: Router,
    token: String,
    models: bool,
    _tmp: TempDir,
}

/// A router over a fresh data directory. Jobs are never processed here (no
/// queue workers run): with `inline_max_pages = 0` every accepted file stays
/// `pending`, which is all routing and validation tests need.
async fn app(name: &str, tweak: impl FnOnce(&mut Config)) -> App {
    let tmp = TempDir::new(name);
    let mut config = Config { data_dir: tmp.path().to_path_buf(), model: "tiny".into(), ..Config::default() };
    config.inline_max_pages = 0;
    tweak(&mut config);
    let store = SqliteStore::open(&tmp.path().join("db.sqlite3")).await.expect("open sqlite");
    let token = new_token();
    store.create_account(&token_hash(&token), &token_prefix(&token), Plan::Paid, 1000, None, 0).await.unwrap();
    let models_dir = ocrchat_tests::models_dir();
    let blobs = Arc::new(LocalBlobs::new(tmp.path()));
    let state = AppState::new(config, Arc::new(store), blobs, &models_dir).expect("state");
    let models = !state.engines.installed().is_empty();
    let router = ocrchat::api::router(state, None, &models_dir);
    App { router, token, models, _tmp: tmp }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts the error status and code, and that the message is short
    /// human text (no decoder or database internals).
    fn error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!((self.status.as_u16(), body["error"].as_str()), (status, Some(code)), "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty() && message.len() < 400, "message: {message:?}");
        assert!(!message.contains(['{', '}']), "message has internals: {message:?}");
        body
    }
}

async fn send(app: &App, request: Request<Body>) -> Reply {
    let response = app.router.clone().oneshot(request).await.expect("infallible router");
    let (parts, body) = response.into_parts();
    Reply { status: parts.status, headers: parts.headers, body: to_bytes(body, 64 << 20).await.unwrap().to_vec() }
}

async fn get(app: &App, uri: &str, token: Option<&str>) -> Reply {
    let mut request = Request::get(uri);
    if let Some(t) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

const BOUNDARY: &str = "ocrchat-test-boundary";

fn multipart(file: Option<(&str, &[u8])>, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some((filename, bytes)) = file {
        body.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    body
}

async fn submit(app: &App, token: Option<&str>, file: Option<(&str, &[u8])>, fields: &[(&str, &str)]) -> Reply {
    let mut request =
        Request::post("/api/v1/ocr/").header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"));
    if let Some(t) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send(app, request.body(Body::from(multipart(file, fields))).unwrap()).await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[tokio::test]
async fn routes_redirects_and_unknown_paths() {
    let app = app("router-routes", |_| {}).await;
    let health = get(&app, "/healthz", None).await;
    assert_eq!((health.status, health.body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let doc = get(&app, "/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.json()["paths"]["/api/v1/ocr/{uuid}/download/"].is_object());
    let tools = get(&app, "/api/v1/tools/", None).await.json();
    assert_eq!(tools["tools"][0]["slug"], "extract-tables");

    // A path without its trailing slash: 308 to it, query kept.
    let moved = get(&app, "/api/v1/ocr/abc/download?format=md", None).await;
    assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers[header::LOCATION], "/api/v1/ocr/abc/download/?format=md");
    // Unknown API paths are JSON 404s; a known path with another method is 405.
    get(&app, "/api/v1/nothing/here", None).await.error(404, "not_found");
    let delete = send(&app, Request::delete("/api/v1/ocr/").body(Body::empty()).unwrap()).await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(delete.headers.contains_key(header::ALLOW));
    // Without a built web app, `/` says where the API is.
    let root = get(&app, "/", None).await;
    assert_eq!(root.status, StatusCode::NOT_FOUND);
    assert!(String::from_utf8_lossy(&root.body).contains("/openapi.json"));
    // A job id that cannot be decoded names no job.
    get(&app, "/api/v1/ocr/%FF%FE/", Some(&app.token)).await.error(404, "not_found");
    // Every response carries a request id.
    assert!(health.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn auth_by_header_or_query_and_accounts_only_where_needed() {
    let app = app("router-auth", |_| {}).await;
    let job = "/api/v1/ocr/00000000000000000000000000000000/";
    get(&app, job, Some("ocr_not_a_token")).await.error(401, "invalid_token");
    get(&app, &format!("{job}?api_token=nope"), None).await.error(401, "invalid_token");
    // A valid token (header or query) or none at all reaches the handler.
    get(&app, job, Some(&app.token)).await.error(404, "not_found");
    get(&app, &format!("{job}?api_token={}", app.token), None).await.error(404, "not_found");
    get(&app, job, None).await.error(404, "not_found");
    // Chat needs an account.
    let chat = |token: Option<&str>| {
        let mut r = Request::post("/api/v1/chat/00000000000000000000000000000000/")
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        r.body(Body::from(r#"{"message": "hi"}"#)).unwrap()
    };
    send(&app, chat(None)).await.error(401, "token_required");
    get(&app, "/api/v1/chat/00000000000000000000000000000000/history/", None).await.error(401, "token_required");
    send(&app, chat(Some(&app.token))).await.error(404, "not_found");
}

#[tokio::test]
async fn submission_failures_map_to_their_status_and_code() {
    let app = app("router-submit", |c| c.max_upload_bytes = 100_000).await;
    let token = Some(app.token.as_str());
    let form_less = Request::post("/api/v1/ocr/").body(Body::from("{}")).unwrap();
    send(&app, form_less).await.error(400, "no_file");
    submit(&app, token, None, &[("tier", "cpu")]).await.error(400, "no_file");
    submit(&app, token, Some(("e.png", b"")), &[]).await.error(400, "empty_file");
    let text = submit(&app, token, Some(("t.png", b"just some text")), &[]).await.error(400, "unsupported_type");
    assert!(text["message"].as_str().unwrap().contains("PNG, JPEG"), "{text}");
    let page = png(64, 32);
    let file = Some(("p.png", page.as_slice()));
    submit(&app, token, file, &[("tier", "gpu")]).await.error(400, "invalid_tier");
    submit(&app, token, file, &[("tool", "nope")]).await.error(400, "unknown_tool");
    submit(&app, token, file, &[("translate_to", "de")]).await.error(400, "invalid_field");
    submit(&app, token, file, &[("tool", "translate"), ("translate_to", "de")])
        .await
        .error(400, "tool_needs_other_tier");
    submit(&app, token, file, &[("language", "xx")]).await.error(400, "unsupported_language");
    // The documented 501: no vision model is configured here.
    submit(&app, token, file, &[("tier", "vlm")]).await.error(501, "not_configured");
    let big = [page.clone(), vec![0; 150_000]].concat();
    submit(&app, token, Some(("big.png", &big)), &[]).await.error(413, "file_too_large");
    // A damaged PNG header: a short message, the decoder's words in the log only.
    let mut damaged = page.clone();
    damaged[12..16].copy_from_slice(&[0xF4, 0xA8, 0x80, 0x00]);
    if app.models {
        let refused = submit(&app, token, Some(("d.png", &damaged)), &[]).await.error(400, "undecodable_file");
        assert_eq!(refused["message"], "the png file is damaged or truncated and cannot be read");
    }
}

#[tokio::test]
async fn quota_concurrency_and_job_state_errors() {
    let app = app("router-state", |c| {
        c.anon_daily_pages = 0;
        c.max_inflight_per_caller = 2;
    })
    .await;
    if !app.models {
        eprintln!("SKIP quota_concurrency_and_job_state_errors: no OCR models (make models)");
        return;
    }
    let page = png(64, 32);
    let file = Some(("p.png", page.as_slice()));
    let over = submit(&app, None, file, &[]).await.error(402, "quota_exceeded");
    assert_eq!((over["used"].as_i64(), over["cap"].as_i64()), (Some(0), Some(0)), "{over}");

    // Queued (never processed here): not ready for download or chat.
    let token = Some(app.token.as_str());
    let job = submit(&app, token, file, &[]).await;
    assert_eq!(job.status, StatusCode::OK);
    let job = job.json();
    assert_eq!(job["status"], "pending", "{job}");
    let uuid = job["uuid"].as_str().unwrap();
    get(&app, &format!("/api/v1/ocr/{uuid}/download/?format=md"), token).await.error(409, "not_ready");
    get(&app, &format!("/api/v1/ocr/{uuid}/download/"), token).await.error(400, "invalid_format");
    get(&app, &format!("/api/v1/ocr/{uuid}/download/?format=odt"), token).await.error(400, "invalid_format");
    let chat = Request::post(format!("/api/v1/chat/{uuid}/"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"message": "what is it?"}"#))
        .unwrap();
    send(&app, chat).await.error(409, "not_ready");
    // Someone else's job is not found, not forbidden.
    get(&app, &format!("/api/v1/ocr/{uuid}/"), None).await.error(404, "not_found");
    // Two unfinished jobs reach this caller's limit of 2: 429 with Retry-After.
    assert_eq!(submit(&app, token, file, &[]).await.status, StatusCode::OK);
    let busy = submit(&app, token, file, &[]).await;
    busy.error(429, "too_many_requests");
    assert!(busy.headers.contains_key(header::RETRY_AFTER));
}

/// The rule for broken files (docs: README, API section): a file is refused
/// at submit with 400 exactly when its type, structure or page count cannot
/// be read (nothing is charged); a file that opens but whose pages cannot
/// be decoded is accepted and those pages fail in the job (refunded).
#[tokio::test]
async fn broken_files_are_refused_at_submit_exactly_when_they_cannot_be_opened() {
    let Some(dir) = ocrchat_tests::testdata_dir() else {
        eprintln!("SKIP broken file rule: ../shared/testdata is absent");
        return;
    };
    let app = app("router-bad-files", |c| c.max_inflight_per_caller = 1000).await;
    if !app.models {
        eprintln!("SKIP broken file rule: no OCR models (make models)");
        return;
    }
    let limits = ocrchat_engine::DecodeLimits::default();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("bad")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tsv") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let opens = match ocrchat_engine::Source::open(&bytes, limits) {
            Ok(source) => (1..=500).contains(&source.page_count()),
            Err(_) => false,
        };
        let reply = submit(&app, Some(&app.token), Some((&name, &bytes)), &[]).await;
        if opens {
            assert_eq!(reply.status, StatusCode::OK, "{name} opens, so it is accepted: {}", reply.json());
        } else {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name} cannot be opened: {}", reply.json());
            let body = reply.json();
            let message = body["message"].as_str().unwrap();
            assert!(message.len() < 120 && !message.contains(['{', '}', '(']), "{name}: {message:?}");
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} hostile files");
}
