//! Searchable PDF export: the invisible text layer round-trips through
//! `pdftotext` (Latin and CJK) and the file stays close to the input's size;
//! JPEG pages (a JPEG file, a scanned PDF's pages) are embedded unchanged.

use std::path::Path;
use std::process::Command;

use ocrchat_engine::{DecodeLimits, Document, ExportFormat, ModelSize, Original, PageSource, Source, export};
use ocrchat_tests::pdfgen::scanned_jpeg_pdf;
use ocrchat_tests::{bow_f1, cer, engine, testdata_or_skip};
use pdf_writer::Finish;

/// Extracts the text of `pdf` with `pdftotext`; fails loudly when it is missing.
fn pdftotext(pdf: &[u8], name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ocrchat-searchable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(&path).arg("-").output().unwrap_or_else(|e| {
        panic!(
            "pdftotext could not run ({e}): install poppler-utils (scripts/install-pdf-tools.sh, run by `make test`)"
        )
    });
    assert!(out.status.success(), "pdftotext failed on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&path);
    String::from_utf8(out.stdout).expect("pdftotext -enc UTF-8 writes UTF-8")
}

/// OCRs `file` and builds the searchable PDF the way the CLI and server do.
fn ocr_to_pdf(file: &Path) -> (Vec<u8>, Document, u64) {
    let bytes = std::fs::read(file).unwrap();
    let doc = engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).unwrap();
    let pdf = export(&doc, ExportFormat::Pdf, Some(Original::new(&bytes, DecodeLimits::default()))).unwrap();
    (pdf, doc, bytes.len() as u64)
}

#[test]
fn phototest_text_layer_round_trips_through_pdftotext() {
    let Some(dir) = testdata_or_skip("searchable pdf phototest") else { return };
    let (pdf, doc, input) = ocr_to_pdf(&dir.join("tess_phototest.png"));
    let text = pdftotext(&pdf, "phototest");
    let f1 = bow_f1(&text, &doc.text());
    eprintln!("searchable pdf phototest: pdftotext BoW-F1 {f1:.3}, {} bytes (PNG {input})", pdf.len());
    assert!(f1 >= 0.95, "BoW-F1 {f1:.3}\npdftotext:\n{text}\nOCR:\n{}", doc.text());
    assert!(pdf.len() as u64 <= 3 * input, "PDF {} bytes > 3 × PNG {input}", pdf.len());
}

#[test]
fn cjk_text_layer_round_trips_through_pdftotext() {
    let Some(dir) = testdata_or_skip("searchable pdf cjk") else { return };
    let (pdf, doc, input) = ocr_to_pdf(&dir.join("tjs_chinese.png"));
    let text = pdftotext(&pdf, "chinese");
    let gt = doc.text();
    assert!(gt.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)), "the OCR read Chinese: {gt}");
    // pdftotext may put spaces between CJK runs: compare without whitespace.
    let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let e = cer(&strip(&text), &strip(&gt));
    eprintln!("searchable pdf chinese: pdftotext CER {e:.4} (whitespace removed), {} bytes (PNG {input})", pdf.len());
    assert!(e <= 0.05, "CER {e:.3}\npdftotext:\n{text}\nOCR:\n{gt}");
    assert!(pdf.len() as u64 <= 3 * input, "PDF {} bytes > 3 × PNG {input}", pdf.len());
}

#[test]
fn jpeg_input_is_embedded_as_jpeg() {
    let Some(dir) = testdata_or_skip("searchable pdf jpeg") else { return };
    let (pdf, doc, _) = ocr_to_pdf(&dir.join("sroie_000.jpg"));
    assert_eq!(doc.pages[0].rotation, 0, "sroie_000.jpg is read upright");
    // The original JPEG stream is in the PDF byte for byte.
    let bytes = std::fs::read(dir.join("sroie_000.jpg")).unwrap();
    assert!(pdf.windows(bytes.len()).any(|w| w == bytes.as_slice()), "JPEG embedded unchanged");
    let text = pdftotext(&pdf, "sroie_000");
    // The receipt ends in two Chinese lines, which pdftotext splits at other
    // places than the OCR's words, and its table columns come out in another
    // order: bag of words over the other words, and the same CJK characters.
    let latin =
        |s: &str| s.split_whitespace().filter(|w| !w.chars().any(|c| c as u32 >= 0x2E80)).collect::<Vec<_>>().join(" ");
    let f1 = bow_f1(&latin(&text), &latin(&doc.text()));
    let cjk = |s: &str| {
        let mut v: Vec<char> = s.chars().filter(|&c| c as u32 >= 0x2E80).collect();
        v.sort_unstable();
        v.into_iter().collect::<String>()
    };
    eprintln!(
        "searchable pdf sroie_000.jpg: pdftotext BoW-F1 {f1:.3} (non-CJK words), {} bytes (JPEG {})",
        pdf.len(),
        bytes.len()
    );
    assert!(f1 >= 0.95, "BoW-F1 {f1:.3}\npdftotext:\n{text}");
    assert_eq!(cjk(&text), cjk(&doc.text()), "CJK characters round-trip");
    assert!(pdf.len() as f64 <= 1.5 * bytes.len() as f64, "PDF {} bytes > 1.5 × JPEG {}", pdf.len(), bytes.len());
}

#[test]
fn born_digital_pdf_is_returned_unchanged() {
    let Some(dir) = testdata_or_skip("searchable pdf born-digital") else { return };
    let file = dir.join("pdfjs_tracemonkey.pdf");
    let (pdf, doc, _) = ocr_to_pdf(&file);
    assert!(doc.pages.iter().all(|p| p.source == ocrchat_engine::PageSource::TextLayer));
    // Already searchable: the original pages, fonts and vector graphics are
    // worth more than any re-rendering.
    let original = std::fs::read(&file).unwrap();
    assert!(pdf == original, "the original bytes come back ({} vs {} bytes)", pdf.len(), original.len());
    let f1 = bow_f1(&pdftotext(&pdf, "tracemonkey"), &doc.text());
    eprintln!("searchable pdf tracemonkey: original returned, pdftotext BoW-F1 vs text layer {f1:.3}");
    assert!(f1 >= 0.95, "BoW-F1 {f1:.3}");
}

#[test]
fn scanned_pdf_pages_keep_their_jpeg() {
    let Some(dir) = testdata_or_skip("searchable pdf of a scan") else { return };
    let grey = image::open(dir.join("tess_eurotext.png")).unwrap().to_luma8();
    // 200 dpi: the page is read at 300 dpi, so the JPEG is smaller than the page read.
    let scan = scanned_jpeg_pdf(&[&grey], 200.0, 85);
    let limits = DecodeLimits::default();
    let jpeg = Source::open(&scan, limits).unwrap().page_jpeg(0).expect("a full-page JPEG scan");
    assert_eq!(image::load_from_memory(&jpeg).unwrap().to_luma8().dimensions(), grey.dimensions());
    let doc = engine(ModelSize::Tiny).ocr_bytes(&scan, |_, _| {}).unwrap();
    let page = &doc.pages[0];
    assert_eq!(page.source, PageSource::Ocr);
    assert_eq!(page.width, grey.width() * 3 / 2, "read at 300 dpi");
    let out = export(&doc, ExportFormat::Pdf, Some(Original::new(&scan, limits))).unwrap();
    assert!(out.windows(jpeg.len()).any(|w| w == jpeg.as_slice()), "the scan's JPEG is embedded unchanged");
    assert!(out.len() < scan.len() + 64 * 1024, "{} bytes from a {}-byte scan", out.len(), scan.len());
    // Same page size (read again at 300 dpi: same pixels), and its text layer is the text read.
    let again = Source::open(&out, limits).unwrap().page(0).unwrap();
    assert_eq!(again.dimensions(), (page.width, page.height));
    let text = pdftotext(&out, "scanned-jpeg");
    let f1 = bow_f1(&text, &doc.text());
    assert!(f1 >= 0.95, "pdftotext BoW-F1 {f1:.3}\npdftotext:\n{text}\nOCR:\n{}", doc.text());

    // A JPEG drawn over part of the page is not the page: it is rendered instead.
    let (w, h) = grey.dimensions();
    let (wpt, hpt) = (w as f32 * 72.0 / 200.0, h as f32 * 72.0 / 200.0);
    let mut pdf = pdf_writer::Pdf::new();
    let (catalog, tree, page_id, image_id, content_id) = (
        pdf_writer::Ref::new(1),
        pdf_writer::Ref::new(2),
        pdf_writer::Ref::new(3),
        pdf_writer::Ref::new(4),
        pdf_writer::Ref::new(5),
    );
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(pdf_writer::Rect::new(0.0, 0.0, wpt, hpt)).parent(tree).contents(content_id);
    p.resources().x_objects().pair(pdf_writer::Name(b"Im1"), image_id);
    p.finish();
    let mut x = pdf.image_xobject(image_id, &jpeg);
    x.filter(pdf_writer::Filter::DctDecode);
    x.width(w as i32);
    x.height(h as i32);
    x.bits_per_component(8);
    x.color_space().device_gray();
    x.finish();
    let mut content = pdf_writer::Content::new();
    content.save_state().transform([wpt / 2.0, 0.0, 0.0, hpt / 2.0, 0.0, hpt / 2.0]).x_object(pdf_writer::Name(b"Im1"));
    content.restore_state();
    pdf.stream(content_id, &content.finish());
    let half = pdf.finish();
    assert!(Source::open(&half, limits).unwrap().page_jpeg(0).is_none(), "drawn over a quarter of the page");
}
