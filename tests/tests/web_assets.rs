//! What a browser receives from `ocrchat serve` for the web app (`dist/`, built
//! by `make web`) and the models, over real HTTP: brotli for clients that
//! accept it, gzip for those that only accept gzip, the plain file otherwise —
//! each decoding to exactly the bytes in `dist/` — with `Vary: Accept-Encoding`;
//! content-hashed files and sha256-addressed models `immutable`, the page,
//! `sw.js`, `widget.js`, the loaders and the model manifest `no-cache`.

use std::io::Read;
use std::path::Path;

use ocrchat_tests::server::{TempDir, TestServer};
use ocrchat_tests::{models_dir, web_dir};
use reqwest::blocking::{Client, Response};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The one file in `dist` named `<stem>-<16 hex>.<ext>` (scripts/web_assets.py).
fn hashed(dist: &Path, stem: &str, ext: &str) -> String {
    let names: Vec<String> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| {
            n.strip_prefix(&format!("{stem}-"))
                .and_then(|r| r.strip_suffix(&format!(".{ext}")))
                .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        })
        .collect();
    assert_eq!(names.len(), 1, "one content-hashed {stem}.{ext} in {}: {names:?}", dist.display());
    names.into_iter().next().unwrap()
}

fn get(client: &Client, url: &str, accept: Option<&str>) -> Response {
    let mut req = client.get(url);
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let resp = req.send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(resp.status(), 200, "GET {url} (accept-encoding {accept:?})");
    resp
}

fn header(resp: &Response, name: &str) -> String {
    resp.headers().get_all(name).iter().map(|v| v.to_str().unwrap().to_string()).collect::<Vec<_>>().join(", ")
}

/// The body as the browser would see it after undoing `Content-Encoding`.
fn decoded(resp: Response) -> (String, Vec<u8>) {
    let encoding = header(&resp, "content-encoding");
    let raw = resp.bytes().unwrap().to_vec();
    let mut out = Vec::new();
    match encoding.as_str() {
        "br" => {
            brotli_decompressor::Decompressor::new(&raw[..], 4096).read_to_end(&mut out).expect("valid brotli");
        }
        "gzip" => {
            flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out).expect("valid gzip");
        }
        "" => out = raw,
        other => panic!("unexpected content-encoding {other}"),
    }
    (encoding, out)
}

#[test]
fn app_and_worker_files_are_precompressed_and_cached_by_name() {
    let dist = web_dir();
    let tmp = TempDir::new("web-assets");
    let server = TestServer::start(tmp.path(), &[("OCRCHAT_WEB_DIR", dist.to_str().expect("UTF-8 path"))]);
    let client = Client::new();

    // The app, both worker builds (js glue and wasm), the style sheet.
    let files = [
        hashed(&dist, "ocrchat-app", "js"),
        hashed(&dist, "ocrchat-app_bg", "wasm"),
        hashed(&dist, "worker", "js"),
        hashed(&dist, "worker_bg", "wasm"),
        hashed(&dist, "worker_full", "js"),
        hashed(&dist, "worker_full_bg", "wasm"),
        hashed(&dist, "style", "css"),
    ];
    for name in &files {
        let on_disk = std::fs::read(dist.join(name)).unwrap();
        let url = server.url(&format!("/{name}"));
        for (accept, want) in [(Some("gzip, deflate, br, zstd"), "br"), (Some("gzip"), "gzip"), (None, "")] {
            let resp = get(&client, &url, accept);
            assert_eq!(header(&resp, "cache-control"), IMMUTABLE, "{name}");
            assert!(
                header(&resp, "vary").to_lowercase().contains("accept-encoding"),
                "{name}: {}",
                header(&resp, "vary")
            );
            let (encoding, body) = decoded(resp);
            assert_eq!(encoding, want, "{name} with accept-encoding {accept:?}");
            assert!(
                body == on_disk,
                "{name} ({want}) decodes to {} bytes, not the {} in dist/",
                body.len(),
                on_disk.len()
            );
        }
        // Compression is worth it: the wasm files shrink by more than half.
        if name.ends_with(".wasm") {
            let br = get(&client, &url, Some("br")).bytes().unwrap().len();
            assert!(br * 2 < on_disk.len(), "{name}: br {br} bytes of {}", on_disk.len());
        }
    }

    // Stable names: revalidated on every use, and naming the hashed files.
    for path in ["/", "/index.html", "/sw.js", "/widget.js", "/worker_loader.js", "/worker_full_loader.js"] {
        let resp = get(&client, &server.url(path), Some("br, gzip"));
        assert_eq!(header(&resp, "cache-control"), "no-cache", "{path}");
        assert!(header(&resp, "vary").to_lowercase().contains("accept-encoding"), "{path}");
        let (_, body) = decoded(resp);
        let text = String::from_utf8(body).unwrap();
        let on_disk = std::fs::read_to_string(dist.join(if path == "/" { "index.html" } else { &path[1..] })).unwrap();
        assert_eq!(text, on_disk, "{path}");
    }
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap();
    for name in [&files[0], &files[1], &files[6]] {
        assert!(index.contains(name.as_str()), "index.html does not load {name}");
    }
    let sw = std::fs::read_to_string(dist.join("sw.js")).unwrap();
    let widget = std::fs::read_to_string(dist.join("widget.js")).unwrap();
    let loader = std::fs::read_to_string(dist.join("worker_loader.js")).unwrap();
    for name in &files[2..6] {
        assert!(sw.contains(name.as_str()) && widget.contains(name.as_str()), "sw.js and widget.js name {name}");
    }
    assert!(loader.contains(&files[2]) && loader.contains(&files[3]), "worker_loader.js: {loader}");
    assert!(!sw.contains("ocrchat-shell-dev"), "sw.js's cache name carries the release");

    // A hashed name that does not exist (an older release) is a 404, not the page.
    let stale = client.get(server.url("/worker_bg-0123456789abcdef.wasm")).send().unwrap();
    assert_eq!(stale.status(), 404);
    assert_ne!(header(&stale, "cache-control"), IMMUTABLE);

    // Models: the manifest is revalidated; a file asked for by its sha256 is immutable.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models_dir().join("manifest.json")).expect("make models")).unwrap();
    let det = &manifest["models"][0]["det"];
    let (file, sha) = (det["file"].as_str().unwrap(), det["sha256"].as_str().unwrap());
    let resp = get(&client, &server.url("/models/manifest.json"), Some("br, gzip"));
    assert_eq!(header(&resp, "cache-control"), "no-cache");
    let resp = client.head(server.url(&format!("/models/{file}?sha256={sha}"))).send().unwrap();
    assert_eq!((resp.status().as_u16(), header(&resp, "cache-control")), (200, IMMUTABLE.to_string()), "{file}");
    let wrong = "0".repeat(64);
    let resp = client.head(server.url(&format!("/models/{file}?sha256={wrong}"))).send().unwrap();
    assert_eq!(header(&resp, "cache-control"), "no-cache", "{file} with a sha256 that is not its own");
}
