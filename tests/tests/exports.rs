//! Exports of real pages checked by independent readers: the .docx by
//! python-docx (what other programs see, not what docx-rs meant to write),
//! the CSV by the `csv` crate's strict reader.

use std::path::{Path, PathBuf};
use std::process::Command;

use ocrchat_engine::{BlockKind, Document, ExportFormat, ModelSize, export};
use ocrchat_tests::{bow_f1, engine, testdata_or_skip};

/// Prints the body paragraphs and the table cells of a .docx, one JSON object.
const READ_DOCX: &str = r#"
import json, sys, docx
d = docx.Document(sys.argv[1])
print(json.dumps({
    # docx-rs's Normal style is not marked default, so unstyled paragraphs
    # have no style object here (Word and LibreOffice fall back to Normal).
    "paragraphs": [{"style": p.style.name if p.style else "", "text": p.text} for p in d.paragraphs],
    "tables": [[[c.text for c in row.cells] for row in t.rows] for t in d.tables],
}))
"#;

/// The python with python-docx, from `OCRCHAT_TEST_PYTHON` (`make test` sets it).
fn python() -> PathBuf {
    let py = std::env::var_os("OCRCHAT_TEST_PYTHON").filter(|p| !p.is_empty()).unwrap_or_else(|| {
        panic!(
            "OCRCHAT_TEST_PYTHON is not set: the docx export is checked with python-docx. \
             Run `make test`, or `export OCRCHAT_TEST_PYTHON=$(scripts/install-test-deps.sh | tail -n 1)`"
        )
    });
    PathBuf::from(py)
}

fn ocr(path: &Path) -> Document {
    let bytes = std::fs::read(path).expect("read test page");
    engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).expect("OCR succeeds")
}

/// Reads `docx` with python-docx; panics with its stderr when it refuses the file.
fn read_docx(docx: &[u8], stem: &str) -> serde_json::Value {
    let path = std::env::temp_dir().join(format!("ocrchat-export-{}-{stem}.docx", std::process::id()));
    std::fs::write(&path, docx).unwrap();
    let py = python();
    let out = Command::new(&py)
        .args(["-c", READ_DOCX])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}); rerun scripts/install-test-deps.sh", py.display()));
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "python-docx could not read the {stem} export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reader prints JSON")
}

#[test]
fn docx_export_reads_back_in_python_docx() {
    let Some(dir) = testdata_or_skip("docx export") else { return };
    for file in ["sroie_000.jpg", "tess_phototest.png"] {
        let doc = ocr(&dir.join(file));
        let bytes = export(&doc, ExportFormat::Docx, None).expect("docx export");
        let read = read_docx(&bytes, file);

        let paragraphs = read["paragraphs"].as_array().unwrap();
        let tables = read["tables"].as_array().unwrap();
        let mut text: Vec<&str> = paragraphs.iter().map(|p| p["text"].as_str().unwrap()).collect();
        for cell in tables.iter().flat_map(|t| t.as_array().unwrap()).flat_map(|r| r.as_array().unwrap()) {
            text.push(cell.as_str().unwrap());
        }
        let f1 = bow_f1(&text.join("\n"), &doc.text());
        eprintln!(
            "{file}: docx BoW-F1 vs document text {f1:.4} ({} paragraphs, {} tables)",
            paragraphs.len(),
            tables.len()
        );
        assert!(f1 >= 0.98, "{file}: the docx loses text: BoW-F1 {f1:.4}");

        let blocks = || doc.pages.iter().flat_map(|p| &p.blocks);
        let n_tables =
            blocks().filter(|b| b.kind == BlockKind::Table && b.table.as_ref().is_some_and(|t| !t.is_empty())).count();
        assert_eq!(tables.len(), n_tables, "{file}: every table block is a Word table");
        let headings = paragraphs.iter().filter(|p| p["style"].as_str().unwrap().starts_with("Heading")).count();
        let n_headings = blocks().filter(|b| b.kind == BlockKind::Heading).count();
        assert_eq!(headings, n_headings, "{file}: every heading block has a heading style");
    }
}

#[test]
fn csv_export_of_a_receipt_is_rectangular() {
    let Some(dir) = testdata_or_skip("csv export") else { return };
    let doc = ocr(&dir.join("sroie_000.jpg"));
    let out = String::from_utf8(export(&doc, ExportFormat::Csv, None).expect("csv export")).expect("UTF-8");
    let tables: Vec<&Vec<Vec<String>>> =
        doc.pages.iter().flat_map(|p| &p.blocks).filter_map(|b| b.table.as_ref()).filter(|t| !t.is_empty()).collect();

    // Tables are separated by one blank line (OCR cells hold no CRLF pairs).
    let chunks: Vec<&str> = out.split("\r\n\r\n").collect();
    let expected_chunks = tables.len().max(1);
    assert_eq!(chunks.len(), expected_chunks, "one CSV table per table block:\n{out}");
    for (i, chunk) in chunks.iter().enumerate() {
        // Not flexible: the reader itself rejects a row of another width.
        let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(chunk.as_bytes())
            .records()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("table {i} is not rectangular CSV: {e}\n{chunk}"));
        let widths: Vec<usize> = rows.iter().map(csv::StringRecord::len).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "table {i}: row widths {widths:?}");
        match tables.get(i) {
            Some(t) => {
                assert_eq!(rows.len(), t.len(), "table {i}: every row exported");
                assert_eq!(widths[0], t.iter().map(Vec::len).max().unwrap(), "table {i}: widest row sets the width");
            }
            None => {
                let lines = doc.text().lines().filter(|l| !l.trim().is_empty()).count();
                assert_eq!((rows.len(), widths[0]), (lines, 1), "no table: one single-column row per line");
            }
        }
    }
    eprintln!("sroie_000: csv export has {} table(s), {} bytes", tables.len(), out.len());
}
