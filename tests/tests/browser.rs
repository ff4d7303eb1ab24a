//! The browser app end to end: `ocrchat serve` on a free port serves `dist/`
//! (built by `make web`) and the models; headless Chromium (Debian's, driven
//! by `tests/browser/drive.mjs` through playwright-core) drops a photo and a
//! 3-page scanned PDF, reads them in the wasm worker, downloads every export.
//! Checked here: text vs ground truth, every export with an independent
//! reader, that no request of the cpu tier carries the document, that a second
//! visit downloads no model, offline use, a corrupt file, the widget, and the
//! PDF read by two workers on a device with three cores (the same exports;
//! the PDF worker alone when its helper cannot start).
//! `tests/browser/drive_server.mjs` covers what involves the server: the vlm
//! tier and chat against `fake_llm` (with the 402 and 501 messages), and the
//! widget embedded in a page of another origin (CORS).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ocrchat_engine::registry::{self, Family};
use ocrchat_engine::{EngineConfig, Engines, ModelSize};
use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::{FakeLlm, TempDir, TestServer};
use ocrchat_tests::{bow_f1, models_dir, qa, runtime, scripts, testdata_or_skip, web_dir, workspace_root};
use reqwest::blocking::{Client, multipart};
use serde_json::Value;

/// One Chromium at a time: on a 2-core machine a browser reading pages in
/// wasm, next to another one and their servers, slows all of them past
/// their timeouts.
fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    static BROWSER: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next one may still run.
    BROWSER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The image worker's wasm (`worker_bg-<hash>.wasm`, scripts/web_assets.py).
fn is_worker_wasm(url: &str) -> bool {
    url.contains("/worker_bg-") && url.ends_with(".wasm")
}

/// Pages of the test PDF (each has a ground-truth `.txt` beside it).
const PDF_PAGES: [&str; 3] = ["tess_eurotext", "uw3_010001", "uw3_010004"];

/// Where playwright-core is installed (scripts/install-tools.sh).
fn npm_dir() -> PathBuf {
    let npm = std::env::var_os("OCRCHAT_NPM_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
        cache.join("ocrchat/tools/npm")
    });
    assert!(
        npm.join("node_modules/playwright-core").is_dir(),
        "playwright-core missing in {}: run scripts/install-tools.sh (make test does)",
        npm.display()
    );
    npm
}

fn pdftotext(path: &Path) -> String {
    let out = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(path).arg("-").output().unwrap_or_else(|e| {
        panic!(
            "pdftotext could not run ({e}): install poppler-utils (scripts/install-pdf-tools.sh, run by `make test`)"
        )
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
            || ["/index.html", "/sw.js", "/widget.js", "/favicon.ico"].contains(&path)
            || path.starts_with("/style") && path.ends_with(".css")
            || (path.starts_with("/ocrchat-app") || path.starts_with("/worker"))
                && (path.ends_with(".js") || path.ends_with(".wasm"));
        assert!(asset, "{phase}: {url} is not an app or model asset");
        assert!(!path.starts_with("/api/"), "{phase}: the cpu tier called the API: {url}");
    }
}

#[test]
fn browser_app_reads_exports_and_keeps_files_private() {
    let Some(testdata) = testdata_or_skip("browser app") else { return };
    let _one = one_browser_at_a_time();
    let root = workspace_root();
    let web_dir = web_dir();
    let npm = npm_dir();
    let tmp = std::env::temp_dir().join(format!("ocrchat-browser-{}", std::process::id()));
    // A run killed before its clean-up may have left this directory (same
    // pid after a restart): start from nothing, not from its database.
    let _ = std::fs::remove_dir_all(&tmp);
    let downloads = tmp.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();

    let images: Vec<image::RgbImage> = PDF_PAGES
        .iter()
        .map(|s| image::open(testdata.join(format!("{s}.png"))).expect("test page").to_rgb8())
        .collect();
    let pdf_path = tmp.join("three-pages.pdf");
    std::fs::write(&pdf_path, scanned_pdf(&images.iter().collect::<Vec<_>>(), 300.0)).unwrap();
    let phototest = testdata.join("tess_phototest.png");
    // A PNG cut in half: the header sniffs as PNG, the data is broken.
    let png = std::fs::read(&phototest).unwrap();
    let corrupt = tmp.join("corrupt.png");
    std::fs::write(&corrupt, &png[..png.len() / 2]).unwrap();

    // The chat question set, asked in the cpu tier's chat (answered in the worker).
    let questions = qa::questions(&testdata).unwrap_or_default();
    let mut qa_files: Vec<(String, Vec<String>)> = Vec::new();
    for q in &questions {
        match qa_files.iter_mut().find(|(f, _)| *f == q.file) {
            Some((_, qs)) => qs.push(q.question.clone()),
            None => qa_files.push((q.file.clone(), vec![q.question.clone()])),
        }
    }
    let qa_json = tmp.join("qa.json");
    let qa_list: Vec<Value> = qa_files
        .iter()
        .map(|(f, qs)| serde_json::json!({"name": f, "path": testdata.join(f), "questions": qs}))
        .collect();
    std::fs::write(&qa_json, serde_json::to_string(&qa_list).unwrap()).unwrap();

    // One sentence per script family, each read with its code and with
    // auto; Japanese under small (tiny does not read it).
    let script_dir = tmp.join("scripts");
    std::fs::create_dir_all(&script_dir).unwrap();
    let samples = scripts::render(&script_dir).unwrap_or_default();
    let model_of = |code: &str| if code == "ja" { ModelSize::Small } else { ModelSize::Tiny };
    let scripts_json = tmp.join("scripts.json");
    let list: Vec<Value> = samples
        .iter()
        .map(|s| {
            serde_json::json!({"family": s.family, "code": s.code, "model": model_of(&s.code).as_str(), "path": s.image})
        })
        .collect();
    std::fs::write(&scripts_json, serde_json::to_string(&list).unwrap()).unwrap();

    let data_dir = tmp.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    // A copy, which the run changes to play a new release.
    let release_dir = tmp.join("dist");
    copy_dir(&web_dir, &release_dir);
    let server = TestServer::start(&data_dir, &[("OCRCHAT_WEB_DIR", release_dir.to_str().expect("UTF-8 path"))]);
    let origin = server.base.clone();
    // The README's picture is refreshed only on request (the golden files'
    // flag), so a test run leaves the checkout as it found it.
    let screenshot = if std::env::var_os("UPDATE_GOLDEN").is_some() {
        root.join("docs/screenshot.png")
    } else {
        tmp.join("screenshot.png")
    };
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
        .env("OCRCHAT_QA", &qa_json)
        .env("OCRCHAT_SCRIPTS", &scripts_json)
        .env("OCRCHAT_RELEASE_DIR", &release_dir)
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
    assert!(first.iter().any(|q| q["url"].as_str().is_some_and(is_worker_wasm)), "the worker loaded");
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
    assert!(
        r["hover_info"].as_str().unwrap_or_default().contains("confidence"),
        "hover shows text and confidence: {}",
        r["hover_info"]
    );

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
    assert_eq!(
        fetched_models(&r["second_load_requests"]),
        0,
        "second visit downloaded a model: {}",
        r["second_load_requests"]
    );
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
    assert!(
        bow_f1(offline_pdf, &pdf_gt) >= 0.95,
        "offline PDF: {} {}",
        r["offline_error"],
        r["offline_cards"][1]["error"]
    );
    // Offline after a first visit that read no PDF: the PDF worker was precached.
    // Its helper workers failed to start: the PDF worker read every page.
    assert_eq!(r["offline_first_visit_pdf"][0]["workers"], 1, "{}", r["offline_first_visit_pdf"]);
    assert!(!r["helper_warnings"].as_array().unwrap().is_empty(), "no helper was tried: {}", r["helper_warnings"]);
    let first_visit_pdf = r["offline_first_visit_pdf"][0]["text"].as_str().unwrap_or_default();
    assert!(
        bow_f1(first_visit_pdf, &pdf_gt) >= 0.95,
        "offline PDF without an earlier PDF: {} {}",
        r["offline_first_visit_error"],
        r["offline_first_visit_pdf"]
    );

    // Chat on the cpu tier: nothing left the browser, and the answers are the
    // API's built-in answerer's on the same files (the server reads them with
    // the browser's model, tiny; wasm and native engines give the same text).
    if !qa_files.is_empty() {
        assert_private(&r["chat_requests"], &origin, "cpu chat");
        let chat = r["chat"].as_array().expect("chat results");
        assert_eq!(chat.len(), qa_files.len(), "{chat:?}");
        let api_dir = TempDir::new("browser-chat-api");
        let api = TestServer::start(api_dir.path(), &[("OCRCHAT_MODEL", "tiny")]);
        let token = api.create_token("paid", 1000);
        let mut compared = 0;
        for ((file, qs), seen) in qa_files.iter().zip(chat) {
            assert_eq!(seen["file"], file.as_str());
            let (uuid, pages) = qa::ocr(&api, &token, &testdata.join(file));
            let browser_text = seen["text"].as_str().unwrap_or_default();
            assert_eq!(
                collapse(browser_text),
                collapse(&pages.join("\u{c}")),
                "{file}: the browser and the API read different text"
            );
            for (q, shown) in qs.iter().zip(seen["answers"].as_array().unwrap()) {
                let (status, reply, _) = qa::ask(&api, &token, &uuid, q, Some("builtin"));
                assert_eq!(status, 200, "{reply}");
                assert_eq!(shown["role"], "assistant", "{file}: {q}: {shown}");
                assert_eq!(shown["content"], reply["message"]["content"], "{file}: {q}");
                assert_eq!(shown["citations"], reply["message"]["citations"], "{file}: {q}");
                compared += 1;
            }
        }
        eprintln!("browser chat: {compared} answers identical to the API's built-in answerer");
        assert_eq!(compared, questions.len());
    }

    if !samples.is_empty() {
        check_scripts(&r, &samples, &origin, model_of);
    }

    // The PDF worker is cached by the service worker once the page is idle,
    // never for a visitor who saves data, whose first PDF still reads.
    let has_pdf_worker = |v: &Value| {
        v.as_array().expect("cache listing").iter().any(|u| u.as_str().is_some_and(|u| u.contains("/worker_full_bg-")))
    };
    assert!(has_pdf_worker(&r["idle_prefetch_cached"]), "PDF worker not prefetched: {}", r["idle_prefetch_cached"]);
    assert!(!has_pdf_worker(&r["save_data_cached"]), "prefetched despite saveData: {}", r["save_data_cached"]);
    let save_data_pdf = r["save_data_pdf"][0]["text"].as_str().unwrap_or_default();
    assert!(bow_f1(save_data_pdf, &pdf_gt) >= 0.95, "first PDF without prefetch: {}", r["save_data_pdf"]);

    // A device with three cores reads the 3-page PDF with two workers (the
    // saveData visit above): the page says so, the browser ran them, and the
    // exports are the one-worker read's, byte for byte.
    let shared = &r["save_data_pdf"][0];
    assert_eq!(cards[1]["workers"], 1, "two cores: one worker: {}", cards[1]);
    assert!(shared["workers"].as_u64().unwrap_or(0) >= 2, "three cores: helpers read pages: {shared}");
    assert!(r["shared_workers_seen"].as_u64().unwrap_or(0) >= 2, "PDF workers run: {}", r["shared_workers_seen"]);
    assert_eq!(shared["progress"], serde_json::json!([3, 3]), "{shared}");
    assert_eq!(shared["page_tabs"], 3, "{shared}");
    for d in r["shared_downloads"].as_array().expect("shared read's exports") {
        let format = d["format"].as_str().unwrap();
        let alone = dls.iter().find(|a| a["card"] == 1 && a["format"] == format).expect("the one-worker export");
        let read = |v: &Value| std::fs::read(v["path"].as_str().unwrap()).expect("download saved");
        assert!(read(d) == read(alone), "{format}: the shared read's export differs from the one-worker read's");
    }
    eprintln!(
        "browser PDF: one worker (beside the photo) {:?}; {} workers {:?}; one worker offline {:?}",
        cards[1]["label"], shared["workers"], shared["label"], r["offline_first_visit_pdf"][0]["label"]
    );

    // A new release: the next visit shows its page; its service worker replaced
    // the old release's cache and cached the PDF worker again.
    assert_eq!(r["release_page_seen"], true, "the reload after a release showed the old page");
    let shell = r["release_shell_before"].as_str().expect("the release's cache name");
    assert!(
        r["release_caches_before"].as_array().unwrap().iter().any(|k| k == shell),
        "{}",
        r["release_caches_before"]
    );
    let after: Vec<&str> = r["release_caches_after"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(
        after.contains(&format!("{shell}next").as_str()) && !after.contains(&shell),
        "caches after the release: {after:?}"
    );
    assert!(has_pdf_worker(&r["release_cached"]), "new release without the PDF worker: {}", r["release_cached"]);

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

/// Every script family read in the worker, by code and by `auto`: CER within
/// the bound, the text the native engine reads with the same model
/// (PP-OCR: the same networks; Tesseract: Debian's libtesseract natively,
/// tesseract-wasm in the browser — both Tesseract 5.3.0, but built apart),
/// nothing uploaded, and Cyrillic read again offline from the Cache API.
fn check_scripts(r: &Value, samples: &[scripts::Sample], origin: &str, model_of: impl Fn(&str) -> ModelSize) {
    assert_private(&r["scripts_requests"], origin, "scripts");
    let seen = r["scripts"].as_array().expect("scripts results");
    assert_eq!(seen.len(), 2 * samples.len(), "{seen:?}");
    let config = EngineConfig { runtime: runtime(), ..EngineConfig::default() };
    let tiny = Engines::new(&models_dir(), ModelSize::Tiny, config);
    let small = Engines::new(&models_dir(), ModelSize::Small, config);
    let (mut identical, mut worst) = (0, 0.0f64);
    let (mut report, mut timings) = (Vec::new(), Vec::new());
    for s in samples {
        for got in seen.iter().filter(|g| g["family"] == s.family.as_str()) {
            let language = got["language"].as_str().unwrap_or_default();
            let text = got["text"].as_str().unwrap_or_default();
            assert!(got["error"].is_null(), "{} ({language}) in the browser: {}", s.family, got["error"]);
            let c = scripts::cer(&s.code, text, &s.text);
            assert!(c <= scripts::MAX_CER, "{} ({language}) in the browser: CER {c:.3}: {text:?}", s.family);
            let engines = if model_of(&s.code) == ModelSize::Small { &small } else { &tiny };
            let bytes = std::fs::read(&s.image).unwrap();
            let native = engines.for_language(language).and_then(|e| e.ocr_bytes(&bytes, |_, _| {})).unwrap().text();
            let apart = scripts::cer(&s.code, text, &native);
            // PP-OCR runs the same networks in both: its codes agree exactly.
            if language == s.code && registry::family_of(&s.code) == Some(Family::PpOcr) {
                assert_eq!(text.trim(), native.trim(), "{} ({language}): browser and native differ", s.family);
            }
            if apart == 0.0 {
                identical += 1;
            } else {
                report.push(format!("{} ({language}): browser {text:?} native {native:?}", s.family));
            }
            worst = worst.max(apart);
            timings.push(format!("{} {language} {} ms", s.family, got["ms"]));
        }
    }
    eprintln!(
        "browser scripts: {identical}/{} identical to native; largest difference CER {worst:.3}\n{}\ndrop → text: {}",
        seen.len(),
        report.join("\n"),
        timings.join(", ")
    );
    // The two Tesseract builds differ by a character here and there (Thai,
    // Korean: Debian's 5.3.0 with leptonica 1.82 vs tesseract-wasm's 5.3.0
    // with leptonica 1.83, LSTM only), within the CER bound each meets.
    assert!(worst <= scripts::MAX_CER, "browser and native text differ by CER {worst:.3}");
    let cyrillic = samples.iter().find(|s| s.family == "Cyrillic").expect("a Cyrillic sample");
    for language in [cyrillic.code.as_str(), "auto"] {
        let offline = &r[format!("offline_script_{language}")][0];
        let text = offline["text"].as_str().unwrap_or_default();
        let c = scripts::cer(&cyrillic.code, text, &cyrillic.text);
        assert!(
            c <= scripts::MAX_CER,
            "offline Cyrillic ({language}): {} {offline}",
            r[format!("offline_script_{language}_error")]
        );
    }
}

/// Copies the files of `from` (one level, like `dist/`) into a new `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs `tests/browser/drive_server.mjs <mode>` with `env`; what it recorded.
fn drive_server(mode: &str, env: &[(&str, &str)]) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(workspace_root().join("tests/browser/drive_server.mjs")).arg(mode).env("OCRCHAT_NPM_DIR", npm_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stderr(Stdio::inherit()).output().expect("node runs (Node.js >= 18 is required)");
    assert!(out.status.success(), "the browser run ({mode}) failed (see stderr above)");
    serde_json::from_slice(&out.stdout).expect("drive_server.mjs prints JSON")
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(300)).build().unwrap()
}

/// `POST /api/v1/ocr/` with `tier=vlm` as `token`: (status, body).
fn submit_vlm(server: &TestServer, token: &str, png: &[u8]) -> (u16, Value) {
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(png.to_vec()).file_name("tess_phototest.png"))
        .text("tier", "vlm");
    let resp = client().post(server.url("/api/v1/ocr/")).bearer_auth(token).multipart(form).send().expect("submit");
    (resp.status().as_u16(), resp.json().expect("JSON body"))
}

fn api_get(server: &TestServer, token: &str, path: &str) -> Value {
    let resp = client().get(server.url(path)).bearer_auth(token).send().expect("GET");
    assert_eq!(resp.status(), 200, "GET {path}");
    resp.json().expect("JSON body")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn browser_vlm_tier_and_chat_show_what_the_server_answered() {
    let Some(testdata) = testdata_or_skip("browser vlm tier") else { return };
    let _one = one_browser_at_a_time();
    let web = web_dir();
    let web = web.to_str().expect("UTF-8 path");
    let phototest = testdata.join("tess_phototest.png");
    let png = std::fs::read(&phototest).unwrap();
    let tmp = TempDir::new("browser-vlm");

    // The vlm tier and chat on fake_llm; a free month of 5 pages is one vlm
    // page at the default cost of 5.
    let fake = FakeLlm::start();
    let mut env = fake.server_env();
    env.extend([
        ("OCRCHAT_WEB_DIR", web.to_string()),
        ("OCRCHAT_MODEL", "tiny".into()),
        ("OCRCHAT_FREE_MONTHLY_PAGES", "5".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    std::fs::create_dir_all(tmp.path().join("vlm")).unwrap();
    let server = TestServer::start(&tmp.path().join("vlm"), &env);
    let token = server.create_token("paid", 100);
    // An account whose month is spent (through the API), and the 402 the
    // server gives it: the UI must show these numbers.
    let exhausted = server.create_token("free", 0);
    assert_eq!(submit_vlm(&server, &exhausted, &png).0, 200, "spending the free month");
    let (status, refused) = submit_vlm(&server, &exhausted, &png);
    assert_eq!(status, 402, "{refused}");
    let (used, cap) = (refused["used"].as_i64().expect("used"), refused["cap"].as_i64().expect("cap"));
    assert_eq!((used, cap), (5, 5), "{refused}");

    // A server without a vision model, and its 501.
    std::fs::create_dir_all(tmp.path().join("novlm")).unwrap();
    let novlm = TestServer::start(&tmp.path().join("novlm"), &[("OCRCHAT_WEB_DIR", web), ("OCRCHAT_MODEL", "tiny")]);
    let novlm_token = novlm.create_token("paid", 100);
    let (status, not_configured) = submit_vlm(&novlm, &novlm_token, &png);
    assert_eq!((status, not_configured["error"].as_str()), (501, Some("not_configured")), "{not_configured}");

    let question = "Which preset was the page read with?";
    let base = format!("{}/", server.base);
    let novlm_base = format!("{}/", novlm.base);
    let r = drive_server(
        "vlm",
        &[
            ("OCRCHAT_BASE_URL", &base),
            ("OCRCHAT_PHOTOTEST", phototest.to_str().unwrap()),
            ("OCRCHAT_TOKEN", &token),
            ("OCRCHAT_QUESTION", question),
            ("OCRCHAT_EXHAUSTED_TOKEN", &exhausted),
            ("OCRCHAT_NOVLM_URL", &novlm_base),
            ("OCRCHAT_NOVLM_TOKEN", &novlm_token),
        ],
    );
    eprintln!("browser vlm: {r}");
    assert_eq!(r["page_errors"], serde_json::json!([]), "errors in the page");
    // Chromium logs every non-2xx fetch; only the two refusals provoked here may appear.
    let refusals = [format!("HTTP 402: {base}api/v1/ocr/"), format!("HTTP 501: {novlm_base}api/v1/ocr/")];
    for e in r["console_errors"].as_array().unwrap() {
        let e = e.as_str().unwrap_or_default();
        assert!(
            e.contains("status of 402") || e.contains("status of 501") || refusals.iter().any(|r| r == e),
            "console error: {e}"
        );
    }

    // The token is kept in localStorage and sent as a Bearer token.
    assert_eq!(r["token_after_reload"], token.as_str());
    assert_eq!(r["token_in_storage"], token.as_str());
    assert!(r["privacy_note"].as_str().unwrap_or_default().contains("sends your file"), "{}", r["privacy_note"]);
    assert_eq!(r["submit_status"], 200);
    assert_eq!(r["submit_authorization"], format!("Bearer {token}"));

    // The card shows the job the API holds.
    let uuid = r["uuid"].as_str().expect("the upload's job uuid");
    let job = api_get(&server, &token, &format!("/api/v1/ocr/{uuid}/"));
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["tier"], "vlm", "{job}");
    let text = job["text"].as_str().unwrap();
    assert!(text.contains("Fake transcription"), "the job was read by fake_llm: {text}");
    let card = &r["card"];
    assert!(card["error"].is_null(), "{card}");
    assert_eq!(card["text"].as_str(), Some(text), "the text shown is the job's");
    assert_eq!(
        card["markdown"].as_str().map(str::trim),
        job["markdown"].as_str().map(str::trim),
        "the markdown shown is the job's"
    );
    assert_eq!(card["chat_shown"], true);

    // Chat: the question and the server's answer with its verified citation.
    let history = api_get(&server, &token, &format!("/api/v1/chat/{uuid}/history/"));
    let messages = history["messages"].as_array().expect("history");
    assert_eq!(messages.len(), 2, "{history}");
    let answer = &messages[1];
    assert_eq!(answer["role"], "assistant");
    let citations = answer["citations"].as_array().expect("the answer cites");
    assert!(!citations.is_empty(), "{answer}");
    let chat = r["chat"].as_array().expect("chat lines");
    assert_eq!(chat.len(), 2, "{chat:?}");
    assert_eq!((chat[0]["role"].as_str(), chat[0]["content"].as_str()), (Some("you"), Some(question)));
    assert_eq!(chat[1]["role"], "assistant", "{chat:?}");
    assert_eq!(chat[1]["content"], answer["content"], "the answer shown is the server's");
    let shown = chat[1]["citations"].as_array().unwrap();
    assert_eq!(shown.len(), citations.len(), "{shown:?}");
    for (ui, api) in shown.iter().zip(citations) {
        let page = api["page"].as_u64().unwrap();
        let snippet = api["snippet"].as_str().unwrap();
        assert_eq!(ui["page"].as_u64(), Some(page));
        assert_eq!(ui["text"].as_str(), Some(format!("p. {page}: “{snippet}”").as_str()));
        // The server checked it; so does the test: the snippet is on that page.
        let page_text = job["pages"][page as usize - 1]["text"].as_str().unwrap();
        assert!(collapse(page_text).contains(&collapse(snippet)), "{snippet:?} is not on page {page}: {page_text}");
    }

    // 402 with its numbers, and 501 worded as "not configured".
    let e402 = r["exhausted_card"]["error"].as_str().unwrap_or_default();
    assert!(e402.contains(&format!("{used} of {cap} used")), "402 shown as: {e402:?}");
    assert!(e402.contains(refused["message"].as_str().unwrap()), "402 shown as: {e402:?}");
    let e501 = r["novlm_card"]["error"].as_str().unwrap_or_default();
    assert!(e501.to_lowercase().contains("not configured"), "501 shown as: {e501:?}");
    assert!(e501.contains(not_configured["message"].as_str().unwrap()), "501 shown as: {e501:?}");
}

#[test]
fn widget_reads_a_file_on_a_page_of_another_origin() {
    let Some(testdata) = testdata_or_skip("widget across origins") else { return };
    let _one = one_browser_at_a_time();
    let web = web_dir();
    let tmp = TempDir::new("browser-widget");
    let server =
        TestServer::start(tmp.path(), &[("OCRCHAT_WEB_DIR", web.to_str().unwrap()), ("OCRCHAT_MODEL", "tiny")]);
    let phototest = testdata.join("tess_phototest.png");
    let base = format!("{}/", server.base);
    let r = drive_server("widget", &[("OCRCHAT_BASE_URL", &base), ("OCRCHAT_PHOTOTEST", phototest.to_str().unwrap())]);
    eprintln!(
        "browser widget: {}",
        serde_json::json!({ "status": r["widget_status"], "ready": r["ready_status"], "errors": r["console_errors"] })
    );

    let page_origin = r["page_origin"].as_str().unwrap();
    assert_ne!(page_origin, r["server_origin"].as_str().unwrap(), "the page must be on another origin");
    assert_eq!(r["location_origin"], page_origin);
    assert_eq!(r["page_errors"], serde_json::json!([]));
    assert_eq!(r["console_errors"], serde_json::json!([]));
    assert_eq!(r["widget_mounted"], true);
    assert_eq!(r["ready_status"], "ready");
    assert_eq!(r["widget_status"], "done");
    let text = r["widget_text"].as_str().unwrap_or_default();
    let gt = ground_truth(&testdata, "tess_phototest");
    assert!(bow_f1(text, &gt) >= 0.95, "widget text: {text}");

    // The worker's wasm and the models were cross-origin fetches, allowed by
    // the server's CORS answer.
    let requests = r["requests"].as_array().unwrap();
    let fetched: Vec<&Value> = requests
        .iter()
        .filter(|q| q["url"].as_str().is_some_and(|u| is_worker_wasm(u) || u.contains("/models/")))
        .collect();
    assert!(fetched.iter().any(|q| is_worker_wasm(q["url"].as_str().unwrap())), "{requests:?}");
    assert!(
        fetched.iter().filter(|q| q["url"].as_str().unwrap().contains("/models/")).count() >= 3,
        "manifest and model files: {requests:?}"
    );
    for q in fetched {
        assert_eq!(q["status"], 200, "{q}");
        assert_eq!(q["origin"], page_origin, "a CORS request from the page's origin: {q}");
        assert_eq!(q["allow_origin"], page_origin, "allowed by the server: {q}");
    }
}
