//! Every script family the contract promises, end to end: a known sentence
//! per family is rendered with Debian's Noto fonts (`pango-view`), then read
//! by the real `ocrchat` CLI and server — with its language code and with
//! `language=auto` (Tesseract's script detector routing the page) — and
//! scored by character error rate. Also the language list, the 400s for
//! unknown and not-installed codes, and a corrupt pack.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ocrchat_engine::tesseract::{Tessdata, TesseractReader};
use ocrchat_tests::models_dir;
use ocrchat_tests::scripts::{MAX_CER, cer, render};
use ocrchat_tests::server::{TempDir, TestServer, ocrchat_bin};
use reqwest::blocking::{Client, multipart};
use serde_json::Value;

/// `ocrchat ocr -l LANGUAGE` over `files` into `out/`: each file's text.
fn cli(language: &str, files: &[&Path], out: &Path) -> Vec<String> {
    let mut cmd = Command::new(ocrchat_bin());
    cmd.args(["ocr", "--language", language, "--output"]).arg(format!("{}/", out.display()));
    cmd.arg("--models-dir").arg(models_dir()).args(files);
    let run = cmd.output().expect("run ocrchat ocr");
    assert!(run.status.success(), "ocrchat ocr -l {language}: {}", String::from_utf8_lossy(&run.stderr));
    files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy();
            std::fs::read_to_string(out.join(format!("{stem}.txt"))).expect("CLI output")
        })
        .collect()
}

fn submit(client: &Client, server: &TestServer, token: &str, file: &Path, language: &str) -> (u16, Value) {
    let form = multipart::Form::new()
        .part("file", multipart::Part::bytes(std::fs::read(file).unwrap()).file_name("page.png"))
        .text("language", language.to_string());
    let resp = client.post(server.url("/api/v1/ocr/")).bearer_auth(token).multipart(form).send().expect("submit");
    (resp.status().as_u16(), resp.json().expect("JSON"))
}

#[test]
fn every_script_reads_through_cli_and_api_with_its_code_and_auto() {
    let dir = TempDir::new("scripts");
    let Some(samples) = render(dir.path()) else { return };
    let files: Vec<&Path> = samples.iter().map(|s| s.image.as_path()).collect();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();

    let mut failures = Vec::new();
    let auto = cli("auto", &files, &out);
    let mut by_code = Vec::new();
    for (s, auto_text) in samples.iter().zip(&auto) {
        let coded = cli(&s.code, &[&s.image], &out).remove(0);
        let (c_code, c_auto) = (cer(&s.code, &coded, &s.text), cer(&s.code, auto_text, &s.text));
        eprintln!("{:<11} {:<5} CER code {c_code:.3} auto {c_auto:.3}", s.family, s.code);
        for (path, c, text) in [("cli code", c_code, &coded), ("cli auto", c_auto, auto_text)] {
            if c > MAX_CER {
                failures.push(format!("{} ({}) {path}: CER {c:.3}: {text:?} vs {:?}", s.family, s.code, s.text));
            }
        }
        by_code.push(coded);
    }

    // The API runs the same engine: the same text, page for page.
    let data = TempDir::new("scripts-api");
    let server = TestServer::start(data.path(), &[]);
    let token = server.create_token("paid", 1000);
    let client = Client::new();
    for ((s, coded), auto_text) in samples.iter().zip(&by_code).zip(&auto) {
        for (language, want) in [(s.code.as_str(), coded), ("auto", auto_text)] {
            let (status, job) = submit(&client, &server, &token, &s.image, language);
            assert_eq!(status, 200, "{} {language}: {job}", s.family);
            assert_eq!(job["status"], "done", "{} {language}: {job}", s.family);
            let text = job["pages"][0]["text"].as_str().unwrap_or_default();
            if text.trim() != want.trim() {
                failures.push(format!("{} api {language}: {text:?} != CLI {want:?}", s.family));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn language_list_and_clear_400s() {
    let data = TempDir::new("languages");
    let server = TestServer::start(data.path(), &[]);
    let client = Client::new();
    let list: Value = client.get(server.url("/api/v1/languages/")).send().unwrap().json().unwrap();
    let langs = list["languages"].as_array().expect("languages");
    assert!(langs.len() >= 100, "{} languages", langs.len());
    let entry = |code: &str| langs.iter().find(|l| l["code"] == code).cloned().unwrap_or_default();
    assert_eq!(entry("ru")["family"], "tesseract");
    assert_eq!(entry("ru")["script"], "Cyrillic");
    assert_eq!(entry("ru")["installed"], true, "rus is in the default set");
    assert_eq!(entry("en")["family"], "pp-ocrv6");
    // Any installed-by-default Tesseract language counts; pick one that is not.
    let missing = langs
        .iter()
        .find(|l| l["installed"] == false && l["family"] == "tesseract")
        .expect("a language outside the default set");
    let token = server.create_token("paid", 100);
    let page = data.path().join("blank.png");
    image::RgbImage::from_pixel(64, 32, image::Rgb([255, 255, 255])).save(&page).unwrap();
    let code = missing["code"].as_str().unwrap();
    let (status, body) = submit(&client, &server, &token, &page, code);
    assert_eq!(status, 400, "{body}");
    let msg = body["error"]["message"].as_str().or(body["message"].as_str()).unwrap_or_default().to_string();
    assert!(msg.contains("make models LANGS="), "names the install command: {body}");
    let (status, body) = submit(&client, &server, &token, &page, "xx-nope");
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("ru") && body.to_string().contains("en"), "lists the supported codes: {body}");
}

#[test]
fn a_corrupt_pack_is_a_clear_error_not_a_crash() {
    let dir = TempDir::new("corrupt-pack");
    let models = dir.path().join("models");
    std::fs::create_dir_all(models.join("tessdata")).unwrap();
    // The PP-OCR models as they are; a Russian pack that is not one.
    for entry in std::fs::read_dir(models_dir()).unwrap().flatten() {
        if entry.path().is_dir() && entry.file_name() != "tessdata" {
            std::os::unix::fs::symlink(entry.path(), models.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(models.join("tessdata/rus.traineddata"), b"\x18\0\0\0 this is not a traineddata file").unwrap();
    let page = dir.path().join("page.png");
    image::RgbImage::from_pixel(64, 32, image::Rgb([255, 255, 255])).save(&page).unwrap();
    let run = Command::new(ocrchat_bin())
        .args(["ocr", "--language", "ru", "--models-dir"])
        .arg(&models)
        .arg(&page)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(3), "a model error, not a crash: {stderr}");
    assert!(stderr.contains("rus.traineddata") && stderr.contains("invalid"), "{stderr}");
}

/// Acceptance 3 of issue 11: every language the API lists loads what reads
/// it — PP-OCR languages their model, the others every Tesseract pack, from
/// the full set `make test` extracts (`OCRCHAT_TEST_TESSDATA_ALL`).
#[test]
fn every_listed_language_loads_its_model() {
    use ocrchat_engine::registry::{self, Family, Plan};
    let Some(all) = std::env::var_os("OCRCHAT_TEST_TESSDATA_ALL").map(PathBuf::from) else {
        eprintln!(
            "SKIP every_listed_language_loads_its_model: OCRCHAT_TEST_TESSDATA_ALL is not set (make test sets it)"
        );
        return;
    };
    let engines = ocrchat_engine::Engines::new(&models_dir(), ocrchat_engine::ModelSize::Small, Default::default());
    let listed = engines.languages();
    assert!(listed.len() >= 100, "{} languages", listed.len());
    let mut failures = Vec::new();
    for status in &listed {
        let code = status.language.code;
        match (status.family, registry::plan(code)) {
            (Family::PpOcr, Ok(Plan::Lines)) => {
                if let Err(e) = engines.check(code) {
                    failures.push(format!("{code}: {e}"));
                }
            }
            (Family::Tesseract, Ok(Plan::Tesseract(packs))) => {
                if let Err(e) = TesseractReader::new(Arc::new(Tessdata::new(&all)), &packs, None) {
                    failures.push(format!("{code} ({packs}): {}", e.detail()));
                }
            }
            (family, plan) => failures.push(format!("{code}: family {family:?} but plan {plan:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} languages loaded", listed.len());
}

/// Right-to-left scripts: words and lines in logical order in every export,
/// and a searchable PDF whose text copies out in that order (`pdftotext`).
#[test]
fn right_to_left_text_is_in_logical_order_in_every_export() {
    let dir = TempDir::new("rtl");
    let Some(samples) = render(dir.path()) else { return };
    if Command::new("pdftotext").arg("-v").output().is_err() {
        eprintln!("SKIP right_to_left: pdftotext is not installed (scripts/install-pdf-tools.sh)");
        return;
    }
    // pdftotext marks right-to-left runs with bidi embedding controls.
    let plain = |s: &str| -> String {
        let s: String =
            s.chars().filter(|c| !matches!(*c as u32, 0x200E | 0x200F | 0x202A..=0x202E | 0x2066..=0x2069)).collect();
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    for s in samples.iter().filter(|s| matches!(s.code.as_str(), "ar" | "he")) {
        let export = |format: &str| -> Vec<u8> {
            let run = Command::new(ocrchat_bin())
                .args(["ocr", "--language", &s.code, "--format", format, "--models-dir"])
                .arg(models_dir())
                .arg(&s.image)
                .output()
                .expect("run ocrchat ocr");
            assert!(run.status.success(), "{} {format}: {}", s.family, String::from_utf8_lossy(&run.stderr));
            run.stdout
        };
        let txt = plain(&String::from_utf8(export("txt")).unwrap());
        assert!(cer(&s.code, &txt, &s.text) <= MAX_CER, "{}: {txt:?} vs {:?}", s.family, s.text);
        let json: Value = serde_json::from_slice(&export("json")).unwrap();
        let words: Vec<&str> = json["pages"][0]["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| b["lines"].as_array().unwrap())
            .flat_map(|l| l["words"].as_array().unwrap())
            .map(|w| w["text"].as_str().unwrap())
            .collect();
        assert_eq!(words.join(" "), txt, "{}: JSON words in logical order", s.family);
        for format in ["md", "csv"] {
            let out = String::from_utf8(export(format)).unwrap();
            assert!(plain(&out).contains(&txt), "{} {format}: {out:?} lacks {txt:?}", s.family);
        }
        let pdf = dir.path().join(format!("{}.pdf", s.code));
        std::fs::write(&pdf, export("pdf")).unwrap();
        let copied = Command::new("pdftotext").arg(&pdf).arg("-").output().unwrap();
        let copied = plain(&String::from_utf8_lossy(&copied.stdout));
        assert_eq!(copied, txt, "{}: the searchable PDF's text copies out in logical order", s.family);
    }
}

/// A page of a Tesseract language scanned sideways or upside down is turned
/// upright (Tesseract's OSD) before it is read.
#[test]
fn turned_pages_of_a_tesseract_language_read_upright() {
    let dir = TempDir::new("turned");
    if Command::new("pango-view").arg("--version").output().is_err() {
        eprintln!("SKIP turned pages: pango-view is not installed (scripts/install-lang-deps.sh)");
        return;
    }
    let text = "Мы гуляли по старому парку и долго смотрели на тихую реку. \
                Вечером мы пили чай и читали книги о далёких странах.";
    for rotate in ["0", "90", "180", "270"] {
        let image = dir.path().join(format!("ru-{rotate}.png"));
        let out = Command::new("pango-view")
            .args(["--no-display", "--dpi", "150", "--margin", "40", "--width", "900", "--rotate", rotate])
            .args(["--font", "Noto Sans 24", "--text", text, "-o"])
            .arg(&image)
            .output()
            .expect("run pango-view");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let read = cli("ru", &[&image], dir.path()).remove(0);
        let c = cer("ru", &read, text);
        assert!(c <= MAX_CER, "turned {rotate}°: CER {c:.3}: {read:?}");
    }
}
