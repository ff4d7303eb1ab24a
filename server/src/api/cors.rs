//! Cross-origin access. Two kinds of caller live on other origins:
//!
//! - the embeddable widget (`widget.js`): its blob worker, which has the
//!   embedding page's origin, `fetch`es `worker_bg.wasm` and `/models/` from
//!   this server; without CORS the browser hides those responses from it;
//! - browser clients of the REST API on their own sites. The API is
//!   authenticated by a bearer token (header or `?api_token=`) and never by
//!   cookies, so a foreign page can only spend a token it was given: allowing
//!   every origin adds no ambient authority, and credentials mode stays off.
//!
//! Everything else (the app's own page, `/metrics`, `/openapi.json`, …) keeps
//! the browser's same-origin default.

use std::time::Duration;

use axum::http::{HeaderName, Method, header, request::Parts};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The CORS policy of the whole router: any origin, for the paths of
/// [`is_cross_origin_path`] only.
pub fn layer() -> CorsLayer {
    CorsLayer::new()
        // A predicate (not `Any`) so the policy can depend on the path; the
        // origin is echoed back and the layer adds `Vary: origin`.
        .allow_origin(AllowOrigin::predicate(|_origin, parts: &Parts| is_cross_origin_path(parts.uri.path())))
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        // Bearer auth and the chat's JSON body make API calls non-simple requests.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        // What a client reads besides the body: downloads' file names, the
        // request id to quote in a bug report, when to retry after a 429.
        .expose_headers([
            header::CONTENT_DISPOSITION,
            header::RETRY_AFTER,
            header::ETAG,
            HeaderName::from_static("x-request-id"),
        ])
        // Browsers cap this anyway (Chromium: 2 h); saves a preflight per call.
        .max_age(Duration::from_secs(3600))
}

/// The API, the models, and the files the widget loads from this server:
/// `widget.js` and the OCR worker (`worker.js`, `worker_bg.wasm`, and any
/// other `worker*.js` / `worker*.wasm` Trunk emits, e.g. its loader shim).
pub fn is_cross_origin_path(path: &str) -> bool {
    if path.starts_with("/api/v1/") || path.starts_with("/models/") || path == "/widget.js" {
        return true;
    }
    path.strip_prefix("/worker")
        .is_some_and(|rest| !rest.contains('/') && (rest.ends_with(".js") || rest.ends_with(".wasm")))
}

#[cfg(test)]
mod tests {
    use super::is_cross_origin_path;

    #[test]
    fn only_the_api_models_and_widget_files_are_cross_origin() {
        for yes in [
            "/api/v1/ocr/",
            "/api/v1/chat/abc/history/",
            "/models/manifest.json",
            "/models/ch_PP-OCRv4_det.rten",
            "/widget.js",
            "/worker.js",
            "/worker_bg.wasm",
            "/worker_loader.js",
        ] {
            assert!(is_cross_origin_path(yes), "{yes}");
        }
        for no in [
            "/",
            "/index.html",
            "/sw.js",
            "/metrics",
            "/openapi.json",
            "/healthz",
            "/worker/x.js",
            "/workers.txt",
            "/api/v2/x",
        ] {
            assert!(!is_cross_origin_path(no), "{no}");
        }
    }
}
