//! `ocrchat ocr FILE --format F -o OUT` writes every format, each a file of
//! the right kind. Lives beside the binary (not in `tests/`) so that cargo
//! builds the current `ocrchat` before running it (`CARGO_BIN_EXE_ocrchat`);
//! a binary found in the target dir might be stale.

use std::path::Path;
use std::process::Command;

use ocrchat_tests::{bow_f1, models_dir, testdata_or_skip};

/// Runs `ocrchat ocr input --format format -o out` and returns the bytes written.
fn ocr_to_file(input: &Path, format: &str, out: &Path, extra: &[&str]) -> Vec<u8> {
    let status = Command::new(env!("CARGO_BIN_EXE_ocrchat"))
        .args(["ocr", "--format", format, "--models-dir"])
        .arg(models_dir())
        .args(extra)
        .arg(input)
        .arg("-o")
        .arg(out)
        .status()
        .expect("the ocrchat binary runs");
    assert!(status.success(), "ocrchat ocr --format {format} {}: {status}", input.display());
    std::fs::read(out).unwrap_or_else(|e| panic!("{format}: no output file {}: {e}", out.display()))
}

#[test]
fn every_format_is_written_and_is_what_it_claims() {
    let Some(dir) = testdata_or_skip("cli formats") else { return };
    let tmp = std::env::temp_dir().join(format!("ocrchat-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let image = dir.join("tess_phototest.png");
    let gt = std::fs::read_to_string(dir.join("tess_phototest.txt")).unwrap();
    // The tiny model: this checks the CLI's plumbing, not accuracy.
    let run =
        |format: &str| ocr_to_file(&image, format, &tmp.join(format!("phototest.{format}")), &["--model", "tiny"]);

    let txt = String::from_utf8(run("txt")).expect("txt is UTF-8");
    let f1 = bow_f1(&txt, &gt);
    assert!(f1 >= 0.85, "txt BoW-F1 {f1:.3}:\n{txt}");

    let md = String::from_utf8(run("md")).expect("md is UTF-8");
    assert!(md.contains("quick brown dog"), "md:\n{md}");

    let json: serde_json::Value = serde_json::from_slice(&run("json")).expect("json parses");
    let pages = json["pages"].as_array().expect("pages array");
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0]["text"].as_str().map(str::trim), Some(txt.trim()), "json and txt carry the same text");
    assert!(!pages[0]["blocks"].as_array().expect("blocks").is_empty());

    let docx = run("docx");
    // A zip (local file header) holding the main Word part; python-docx
    // reads it in tests/tests/exports.rs.
    assert!(docx.starts_with(b"PK\x03\x04"), "docx is a zip");
    assert!(docx.windows(17).any(|w| w == b"word/document.xml"), "docx has word/document.xml");

    let pdf = run("pdf");
    assert!(pdf.starts_with(b"%PDF-"), "pdf magic");
    assert!(pdf[pdf.len().saturating_sub(32)..].windows(5).any(|w| w == b"%%EOF"), "pdf ends with %%EOF");

    let csv = run("csv");
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.as_slice())
        .records()
        .collect::<Result<_, _>>()
        .expect("csv parses");
    // No table on this page: one row per text line.
    assert!(rows.len() >= 8, "{} csv rows", rows.len());
    assert!(rows.iter().any(|r| r.iter().any(|c| c.contains("quick brown dog"))));

    // A born-digital PDF in, the same file out as the searchable PDF.
    let paper = dir.join("pdfjs_tracemonkey.pdf");
    let out = ocr_to_file(&paper, "pdf", &tmp.join("tracemonkey.pdf"), &[]);
    assert!(out == std::fs::read(&paper).unwrap(), "born-digital PDF returned unchanged");
    let _ = std::fs::remove_dir_all(&tmp);
}
