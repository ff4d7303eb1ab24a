//! Static files: the web app (`dist/`, built by `make web`) and the models.
//!
//! Both are served with the precompressed variants made at build time
//! (`scripts/web_assets.py` writes `name.br` and `name.gz` beside each file):
//! the client's `Accept-Encoding` picks brotli, then gzip, then the plain file,
//! and every answer says `Vary: Accept-Encoding` so a shared cache keeps the
//! variants apart.
//!
//! Caching follows the names: a content-hashed file (`name-<16 hex>.ext`) and a
//! model file requested as `…?sha256=<its manifest sha256>` never change, so
//! they are `immutable` for a year; everything else (`index.html`, `sw.js`,
//! `widget.js`, the worker loaders, `models/manifest.json`) is `no-cache`:
//! revalidated on every use, which is how a new release is noticed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use ocrchat_engine::registry::{TESSDATA_DIR, TESSDATA_MANIFEST};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

/// For files whose URL names their content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For files at stable names: always revalidated (a 304 when unchanged).
pub const NO_CACHE: &str = "no-cache";

/// The web app in `dir`. Paths that name no file get `index.html` (the app's
/// page), except asset-like paths (`….js`, `….wasm`, …): those are a 404, so a
/// stale reference never receives the page, let alone caches it as immutable.
pub fn web(dir: &Path) -> Router {
    let index = ServeFile::new(dir.join("index.html")).precompressed_br().precompressed_gzip();
    let page_or_404 = tower::service_fn(move |req: Request| {
        let index = index.clone();
        async move {
            if looks_like_asset(req.uri().path()) {
                return Ok::<_, Infallible>(StatusCode::NOT_FOUND.into_response());
            }
            Ok(index.oneshot(req).await.map_or_else(|e| match e {}, IntoResponse::into_response))
        }
    });
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip().fallback(page_or_404);
    Router::new().fallback_service(files).layer(middleware::from_fn(web_headers))
}

/// The models in `dir` (nested under `/models`); `manifest.json` names each
/// file's sha256, which makes `file?sha256=<that>` immutable.
pub fn models(dir: &Path) -> Router {
    let hashes = Arc::new(model_hashes(dir));
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new().fallback_service(files).layer(middleware::from_fn_with_state(hashes, model_headers))
}

async fn web_headers(request: Request, next: Next) -> Response {
    let immutable = is_hashed_name(request.uri().path());
    let mut response = next.run(request).await;
    set_headers(&mut response, immutable);
    response
}

async fn model_headers(State(hashes): State<Arc<HashMap<String, String>>>, request: Request, next: Next) -> Response {
    let file = request.uri().path().trim_start_matches('/');
    let asked = request.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("sha256=")));
    let immutable = asked.is_some_and(|sha| hashes.get(file).is_some_and(|known| known.eq_ignore_ascii_case(sha)));
    let mut response = next.run(request).await;
    set_headers(&mut response, immutable);
    response
}

fn set_headers(response: &mut Response, immutable: bool) {
    let headers = response.headers_mut();
    // Appended: the CORS layer adds its own `Vary: origin`.
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let ok = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    if ok {
        let policy = if immutable { IMMUTABLE } else { NO_CACHE };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
}

/// `…/name-<16 lowercase hex>.ext`: the names `scripts/web_assets.py` gives
/// the app's and workers' files (a prefix of their sha256).
pub fn is_hashed_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    stem.rsplit_once('-').is_some_and(|(base, hash)| {
        !base.is_empty() && hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A path whose last segment has an extension other than `.html`.
fn looks_like_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.rsplit_once('.').is_some_and(|(_, ext)| !ext.eq_ignore_ascii_case("html"))
}

/// file (relative to the models dir) → sha256, from every `{"file", "sha256"}`
/// object in `manifest.json` and in the Tesseract packs' `tessdata/manifest.json`
/// (whose paths are relative to it); empty when there is none (nothing is
/// immutable then).
fn model_hashes(dir: &Path) -> HashMap<String, String> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut HashMap<String, String>) {
        match v {
            serde_json::Value::Object(o) => {
                if let (Some(file), Some(sha)) =
                    (o.get("file").and_then(|f| f.as_str()), o.get("sha256").and_then(|s| s.as_str()))
                {
                    out.insert(format!("{prefix}{}", file.trim_start_matches('/')), sha.to_string());
                }
                o.values().for_each(|v| walk(v, prefix, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, prefix, out)),
            _ => {}
        }
    }
    let mut out = HashMap::new();
    let tessdata_manifest = format!("{TESSDATA_DIR}/{TESSDATA_MANIFEST}");
    for (manifest, prefix) in
        [("manifest.json", String::new()), (tessdata_manifest.as_str(), format!("{TESSDATA_DIR}/"))]
    {
        match std::fs::read(dir.join(manifest)).map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
            Ok(Ok(json)) => walk(&json, &prefix, &mut out),
            Ok(Err(e)) => {
                tracing::warn!("models/{manifest} is not JSON ({e}): its files will not be cached as immutable")
            }
            Err(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_hashed_name, looks_like_asset, model_hashes};

    #[test]
    fn hashed_names_are_told_from_stable_ones() {
        for yes in
            ["/worker-0123456789abcdef.js", "/ocrchat-app_bg-fedcba9876543210.wasm", "/style-00000000aaaaaaaa.css"]
        {
            assert!(is_hashed_name(yes), "{yes}");
        }
        for no in [
            "/",
            "/index.html",
            "/sw.js",
            "/widget.js",
            "/worker_loader.js",
            "/widget-demo.html",
            "/worker-0123456789ABCDEF.js",
            "/worker-0123456789abcde.js",
            "/-0123456789abcdef.js",
            "/worker-0123456789abcdef",
        ] {
            assert!(!is_hashed_name(no), "{no}");
        }
    }

    #[test]
    fn only_asset_paths_miss_the_app_page() {
        assert!(looks_like_asset("/worker-0123456789abcdef.js"));
        assert!(looks_like_asset("/old_bg.wasm"));
        assert!(!looks_like_asset("/"));
        assert!(!looks_like_asset("/some/page"));
        assert!(!looks_like_asset("/index.html"));
    }

    #[test]
    fn tesseract_files_are_addressed_by_their_manifest_sha256() {
        let dir = std::env::temp_dir().join(format!("ocrchat-model-hashes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tessdata")).unwrap();
        std::fs::write(
            dir.join("manifest.json"),
            r#"{"models": [{"det": {"file": "tiny/det.onnx", "sha256": "aa"}}]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("tessdata/manifest.json"),
            r#"{"packs": [{"pack": "rus", "file": "rus.traineddata", "sha256": "bb"}],
                "wasm": [{"name": "lib.js", "file": "wasm/lib.js", "sha256": "cc"}]}"#,
        )
        .unwrap();
        let hashes = model_hashes(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(hashes.get("tiny/det.onnx").map(String::as_str), Some("aa"));
        assert_eq!(hashes.get("tessdata/rus.traineddata").map(String::as_str), Some("bb"));
        assert_eq!(hashes.get("tessdata/wasm/lib.js").map(String::as_str), Some("cc"));
        assert_eq!(hashes.len(), 3);
    }
}
