//! The browser app end to end: `ocrchat serve` on a free port serves `dist/`
//! (built by `make web`) and the models; headless Chromium (Debian's, driven
//! by `tests/browser/drive.mjs` through playwright-core) drops a photo and a
//! 3-page scanned PDF, reads them in the wasm worker, downloads every export.
//! Checked here: text vs ground truth, every export with an independent
//! reader, that no request of the cpu tier carries the document, that a second
//! visit downloads no model, offline use, a corrupt file, the widget.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::TestServer;
use ocrchat_tests::{bow_f1, testdata_or_skip, workspace_root};
use serde_json::Value;

/// Pages of the test PDF (each has a ground-truth `.txt` beside it).
const PDF_PAGES: [&str; 3] = ["tess_eurotext", "uw3_010001", "uw3_010004"];

fn npm_dir() -> PathBuf {
    std::env::var_os("OCRCHAT_NPM_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
        cache.join("ocrchat/tools/npm")
    })
}

fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(path).arg("-").output().unwrap_or_else(|e| {
        panic!("pdftotext could not run ({e}): install poppler-utils (scripts/install-pdf-tools.sh, run by `make test`)")
    });
    assert!(out.status.success(), "pdftotext refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Paragraph texts of a .docx, read by python-docx (`OCRCHAT_TEST_PYTHON`).
fn docx_text(path: &Path) -> String {
    let py = std::env::var_os("OCRCHAT_TEST_PYTHON").filter(|p| !p.is_empty()).expect(
        "OCRCHAT_TEST_PYTHON is not set: run `make test`, or `export OCRCHAT_TEST_PYTHON=$(scripts/install-test-deps.sh | tail -n 1)`",
    );
    let script = "import sys, docx\nd = docx.Document(sys.argv[1])\nprint('\\n'.join(p.text for p in d.paragraphs))\n\
                  for t in d.tables:\n    for r in t.rows:\n        print('\\t'.join(c.text for c in r.cells))";
    let out = Command::new(py).args(["-c", script]).arg(path).output().expect("python runs");
    assert!(out.status.success(), "python-docx refused {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn ground_truth(dir: &Path, stem: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{stem}.txt"))).expect("ground truth")
}

/// Checks one downloaded export against the text the app showed.
fn check_export(format: &str, path: &Path, shown: &str, gt: &str, pages: usize) {
    let bytes = std::fs::read(path).expect("download saved");
    assert!(!bytes.is_empty(), "{format} export is empty");
    let f1 = |text: &str| bow_f1(text, gt);
    match format {
        "txt" => {
            let text = String::from_utf8(bytes).expect("txt is UTF-8");
            assert_eq!(text.trim(), shown.trim(), "txt export differs from the text shown");
            assert_eq!(text.matches('\u{c}').count(), pages - 1, "one form feed between pages");
        }
        "md" => {
            let md = String::from_utf8(bytes).expect("md is UTF-8");
            assert!(f1(&md) >= 0.9, "md export BoW-F1 {:.3}", f1(&md));
        }
        "json" => {
            let doc: ocrchat_engine::Document = serde_json::from_slice(&bytes).expect("json export is a Document");
            assert_eq!(doc.pages.len(), pages);
            assert_eq!(doc.text().trim(), shown.trim(), "json export text differs from the text shown");
        }
        "csv" => {
            let mut rows = 0;
            for r in csv::Reader::from_reader(&bytes[..]).into_records() {
                r.expect("csv export parses");
                rows += 1;
            }
            assert!(rows > 0, "csv export has no rows");
        }
        "docx" => {
            let text = docx_text(path);
            assert!(f1(&text) >= 0.95, "docx export BoW-F1 {:.3}:\n{text}", f1(&text));
        }
        "pdf" => {
            assert!(bytes.starts_with(b"%PDF-"), "pdf export is not a PDF");
            let text = pdftotext(path);
            assert!(f1(&text) >= 0.95, "pdftotext of the searchable pdf: BoW-F1 {:.3}:\n{text}", f1(&text));
            assert_eq!(text.matches('\u{c}').count(), pages, "pdftotext ends every page with a form feed");
        }
        other => panic!("unexpected format {other}"),
    }
}

/// A request is allowed in the cpu tier when it fetches a file of the app or
/// a model from the same origin, and carries no body.
fn assert_private(requests: &Value, origin: &str, phase: &str) {
    let requests = requests.as_array().expect("request log");
    assert!(!requests.is_empty(), "{phase}: no request was recorded at all (the recorder is broken)");
    for r in requests {
        let url = r["url"].as_str().unwrap_or_default();
        let method = r["method"].as_str().unwrap_or_default();
        assert_eq!(method, "GET", "{phase}: {method} {url} — the cpu tier must only GET");
        assert_eq!(r["body_bytes"], 0, "{phase}: {url} carries a body");
        if url.starts_with("blob:") || url.starts_with("data:") {
            continue; // local to the browser (downloads, the widget's worker)
        }
        let path = url.strip_prefix(origin).unwrap_or_else(|| panic!("{phase}: request to another origin: {url}"));
        let path = path.split('?').next().unwrap_or_default();
        let asset = path == "/"
            || path.starts_with("/models/")
            || ["/index.html", "/style.css", "/sw.js", "/widget.js", "/favicon.ico"].contains(&path)
            || (path.starts_with("/ocrchat-app") || path.starts_with("/worker")) && (path.ends_with(".js") || path.ends_with(".wasm"));
        assert!(asset, "{phase}: {url} is not an app or model asset");
        assert!(!path.starts_with("/api/"), "{phase}: the cpu tier called the API: {url}");
    }
}

#[test]
fn browser_app_reads_exports_and_keeps_files_private() {
    let Some(testdata) = testdata_or_skip("browser app") else { return };
    let root = workspace_root();
    // OCRCHAT_TEST_WEB_DIR: an unoptimised build while developing (wasm-opt takes minutes).
    let web_dir = std::env::var_os("OCRCHAT_TEST_WEB_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("dist"));
    assert!(web_dir.join("index.html").is_file(), "{} missing: build the app with `make web` (make test does)", web_dir.display());
    let npm = npm_dir();
    assert!(
        npm.join("node_modules/playwright-core").is_dir(),
        "playwright-core missing in {}: run scripts/install-tools.sh (make test does)",
        npm.display()
    );
    let tmp = std::env::temp_dir().join(format!("ocrchat-browser-{}", std::process::id()));
    let downloads = tmp.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();

    let images: Vec<image::RgbImage> =
        PDF_PAGES.iter().map(|s| image::open(testdata.join(format!("{s}.png"))).expect("test page").to_rgb8()).collect();
    let pdf_path = tmp.join("three-pages.pdf");
    std::fs::write(&pdf_path, scanned_pdf(&images.iter().collect::<Vec<_>>(), 300.0)).unwrap();
    let phototest = testdata.join("tess_phototest.png");
    // A PNG cut in half: the header sniffs as PNG, the data is broken.
    let png = std::fs::read(&phototest).unwrap();
    let corrupt = tmp.join("corrupt.png");
    std::fs::write(&corrupt, &png[..png.len() / 2]).unwrap();

    let data_dir = tmp.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    let server = TestServer::start(&data_dir, &[("OCRCHAT_WEB_DIR", web_dir.to_str().expect("UTF-8 path"))]);
    let origin = server.base.clone();
    let screenshot = root.join("docs/screenshot.png");
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let out = Command::new("node")
        .arg(root.join("tests/browser/drive.mjs"))
        .env("OCRCHAT_BASE_URL", format!("{origin}/"))
        .env("OCRCHAT_NPM_DIR", &npm)
        .env("OCRCHAT_OUT", &downloads)
        .env("OCRCHAT_SCREENSHOT", &screenshot)
        .env("OCRCHAT_PHOTOTEST", &phototest)
        .env("OCRCHAT_PDF", &pdf_path)
        .env("OCRCHAT_CORRUPT", &corrupt)
        // The run ends by stopping the server to check the app offline.
        .env("OCRCHAT_SERVER_PID", server.pid().to_string())
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs (Node.js >= 18 is required)");
    assert!(out.status.success(), "the browser run failed (see stderr above)");
    let r: Value = serde_json::from_slice(&out.stdout).expect("drive.mjs prints JSON");
    drop(server);

    assert_eq!(r["page_errors"], serde_json::json!([]), "errors in the page");
    assert!(r["privacy_note"].as_str().unwrap_or_default().contains("never leave this browser"));
    assert!(r["first_model_status"].as_str().unwrap_or_default().contains("tiny model ready"));
    // The first load is the lean worker: the PDF worker (twice its size) is
    // fetched by the page only when a PDF arrives (the service worker may
    // precache it once the model is ready, off the critical path).
    let first = r["first_load_requests"].as_array().expect("first load requests");
    assert!(first.iter().any(|q| q["url"].as_str().is_some_and(|u| u.ends_with("/worker_bg.wasm"))), "the worker loaded");
    let early_pdf_worker: Vec<&Value> = first
        .iter()
        .filter(|q| q["service_worker"] != true && q["url"].as_str().is_some_and(|u| u.contains("worker_full")))
        .collect();
    assert!(early_pdf_worker.is_empty(), "the PDF worker was loaded before any PDF: {early_pdf_worker:?}");

    // Text of both files vs ground truth.
    let cards = r["cards"].as_array().expect("cards");
    assert_eq!(cards.len(), 2, "one card per file: {cards:?}");
    let photo_gt = ground_truth(&testdata, "tess_phototest");
    let pdf_gt = PDF_PAGES.iter().map(|s| ground_truth(&testdata, s)).collect::<Vec<_>>().join("\n");
    for (card, gt, pages) in [(&cards[0], &photo_gt, 1), (&cards[1], &pdf_gt, 3)] {
        let text = card["text"].as_str().unwrap_or_default();
        assert!(card["error"].is_null(), "{}: {}", card["name"], card["error"]);
        let f1 = bow_f1(text, gt);
        eprintln!("browser: {} BoW-F1 {f1:.3}, {} boxes on page 1", card["name"], card["boxes"]);
        assert!(f1 >= 0.95, "{}: BoW-F1 {f1:.3}\n{text}", card["name"]);
        assert_eq!(card["progress"], serde_json::json!([pages, pages]), "progress of {}", card["name"]);
        assert_eq!(card["page_tabs"].as_u64().unwrap_or(0), if pages > 1 { pages as u64 } else { 0 });
        assert!(card["boxes"].as_u64().unwrap_or(0) >= 20, "word boxes drawn over the page: {}", card["boxes"]);
        assert!(!card["markdown"].as_str().unwrap_or_default().trim().is_empty(), "markdown shown");
    }
    // Per-page progress was visible while the PDF was read (1/3 or 2/3 seen).
    let seen = r["progress_seen"].to_string();
    assert!(seen.contains("1/3") || seen.contains("2/3"), "no intermediate PDF progress seen: {seen}");
    assert!(r["hover_info"].as_str().unwrap_or_default().contains("confidence"), "hover shows text and confidence: {}", r["hover_info"]);

    // Every export, read by something other than our code.
    let dls = r["downloads"].as_array().expect("downloads");
    assert_eq!(dls.len(), 12, "six exports per file");
    for d in dls {
        let i = d["card"].as_u64().unwrap() as usize;
        let (gt, pages, stem) = if i == 0 { (&photo_gt, 1, "tess_phototest") } else { (&pdf_gt, 3, "three-pages") };
        let format = d["format"].as_str().unwrap();
        assert_eq!(d["filename"].as_str().unwrap(), format!("{stem}.{format}"));
        check_export(format, Path::new(d["path"].as_str().unwrap()), cards[i]["text"].as_str().unwrap(), gt, pages);
    }

    // Privacy: the whole cpu run (load, OCR, exports) only fetched app and model files.
    // The photo's exports happen in the second visit, also checked below.
    assert_private(&r["cpu_requests"], &origin, "cpu tier");
    let fetched_models = |log: &Value| {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|q| {
                let u = q["url"].as_str().unwrap_or_default();
                u.contains("/models/") && !u.contains("manifest.json")
            })
            .count()
    };
    assert_eq!(fetched_models(&r["cpu_requests"]), 3, "first visit downloads det, rec and dict once");
    // Second visit (photo read and exported again): no model download.
    assert_private(&r["second_load_requests"], &origin, "second visit");
    assert_eq!(fetched_models(&r["second_load_requests"]), 0, "second visit downloaded a model: {}", r["second_load_requests"]);
    assert!(r["second_model_status"].as_str().unwrap_or_default().contains("from this browser's cache"));

    // A corrupt file: an error on its card, and the page still reads the next file.
    let bad = &r["corrupt_cards"][0];
    assert!(bad["error"].as_str().is_some_and(|e| !e.is_empty()), "corrupt file shows an error: {bad}");
    let again = r["after_corrupt_cards"][0]["text"].as_str().unwrap_or_default();
    assert!(bow_f1(again, &photo_gt) >= 0.95, "after the corrupt file: {again}");

    // Offline after the first visit, both workers.
    let offline = r["offline_cards"][0]["text"].as_str().unwrap_or_default();
    assert!(bow_f1(offline, &photo_gt) >= 0.95, "offline run: {} {}", r["offline_error"], r["offline_cards"]);
    let offline_pdf = r["offline_cards"][1]["text"].as_str().unwrap_or_default();
    assert!(bow_f1(offline_pdf, &pdf_gt) >= 0.95, "offline PDF: {} {}", r["offline_error"], r["offline_cards"][1]["error"]);
    // Offline after a first visit that read no PDF: the PDF worker was precached.
    let first_visit_pdf = r["offline_first_visit_pdf"][0]["text"].as_str().unwrap_or_default();
    assert!(
        bow_f1(first_visit_pdf, &pdf_gt) >= 0.95,
        "offline PDF without an earlier PDF: {} {}",
        r["offline_first_visit_error"],
        r["offline_first_visit_pdf"]
    );

    // The widget in a plain page.
    assert_eq!(r["widget_mounted"], true);
    let wt = r["widget_text"].as_str().unwrap_or_default();
    assert!(bow_f1(wt, &photo_gt) >= 0.95, "widget text: {wt}");
    let wpdf = r["widget_pdf_text"].as_str().unwrap_or_default();
    assert!(bow_f1(wpdf, &pdf_gt) >= 0.95, "widget PDF text: {wpdf}");
    assert_eq!(r["widget_errors"], serde_json::json!([]));
    let widget_requests = r["widget_requests"].as_array().unwrap();
    for q in widget_requests {
        assert_eq!(q["method"], "GET", "widget request {q}");
        assert_eq!(q["body_bytes"], 0, "widget request {q}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
