//! PDF input: born-digital pages come from the text layer (exact text, in
//! reading order); image-only pages are rendered and OCR'd.

use ocrchat_engine::{DecodeLimits, ModelSize, PageSource, Source};
use ocrchat_tests::pdfgen::{scanned_jpeg_pdf, scanned_pdf};
use ocrchat_tests::{bow_f1, cer, engine, testdata_or_skip};
use pdf_writer::{Content, Finish, Pdf, Rect, Ref};

#[test]
fn born_digital_pdf_is_read_from_its_text_layer() {
    let Some(dir) = testdata_or_skip("pdf text layer") else { return };
    let bytes = std::fs::read(dir.join("pdfjs_tracemonkey.pdf")).unwrap();
    let gt = std::fs::read_to_string(dir.join("pdfjs_tracemonkey.txt")).unwrap();
    let doc = engine(ModelSize::Tiny).ocr_bytes(&bytes, |_, _| {}).unwrap();
    assert_eq!(doc.pages.len(), 14);
    assert!(doc.pages.iter().all(|p| p.source == PageSource::TextLayer), "every page has a usable text layer");
    let text = doc.text();
    let f1 = bow_f1(&text, &gt);
    eprintln!("tracemonkey text layer: BoW-F1 {f1:.3}, CER {:.3}", cer(&text, &gt));
    // Hyphenated line ends are joined as pdftotext (the ground truth) joins
    // them. What remains: pdftotext puts a space between a sub- or
    // superscript and a following comma ("i7 ,", "Gal∗+ ,"), joins "IEEE-" /
    // "754" (we keep hyphens before digits and capitals) and garbles a
    // figure drawn with an unmapped font.
    assert!(f1 >= 0.98, "BoW-F1 {f1:.3}");
    assert!(text.contains("interpreter") && !text.contains("inter-\npreter"), "hyphenated words are joined");
    assert!(
        text.starts_with("Trace-based Just-in-Time Type Specialization for Dynamic Languages\n"),
        "{}",
        &text[..200]
    );
    assert!(doc.mean_confidence == 1.0);
    // Two columns read one after the other: the last line of the left column
    // of page 1 comes before the first line of its right column.
    let p1 = &doc.pages[0].text;
    let left = p1.find("deployment as easy as distributing a source file").expect("left column text");
    let right = p1.find("are used for").map_or(usize::MAX, |i| i);
    assert!(left < right || right == usize::MAX);
}

#[test]
fn scanned_pdf_pages_are_rendered_and_recognised() {
    let Some(dir) = testdata_or_skip("scanned pdf") else { return };
    let img = image::open(dir.join("tess_eurotext.png")).unwrap().to_rgb8();
    let gt = std::fs::read_to_string(dir.join("tess_eurotext.txt")).unwrap();
    // (scan resolution, CER bound): at 300 dpi the page renders 1:1; a
    // 200-dpi scan is resampled by 1.5, which costs a little accuracy.
    for (dpi, max_cer) in [(300.0, 0.03), (200.0, 0.06)] {
        let bytes = scanned_pdf(&[&img], dpi);
        let doc = engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).unwrap();
        assert_eq!(doc.pages.len(), 1);
        let page = &doc.pages[0];
        assert_eq!(page.source, PageSource::Ocr);
        let expected_w = (img.width() as f32 * 300.0 / dpi) as i64;
        assert!((page.width as i64 - expected_w).abs() <= 2, "{} px wide, expected {expected_w}", page.width);
        let c = cer(&page.text, &gt);
        assert!(c < max_cer, "{dpi} dpi: CER {c:.3}\n{}", page.text);
    }
}

#[test]
fn a_300_dpi_scan_renders_to_its_own_pixels() {
    // A grey page with detail in every pixel (resampling would blur it).
    let scan = image::GrayImage::from_fn(620, 877, |x, y| image::Luma([((x * 7) ^ (y * 13)) as u8]));
    let jpeg_pdf = |dpi| scanned_jpeg_pdf(&[&scan], dpi, 90);
    let pdf = jpeg_pdf(300.0);
    let source = Source::open(&pdf, DecodeLimits::default()).unwrap();
    let page = source.page(0).unwrap();
    // What the PDF stores, decoded as a JPEG file is decoded (grey → RGB).
    let stored = source.page_jpeg(0).expect("a full-page grey JPEG");
    let decoded = image::load_from_memory_with_format(&stored, image::ImageFormat::Jpeg).unwrap().to_rgb8();
    assert_eq!(page.dimensions(), scan.dimensions());
    assert!(page == decoded, "the page is the scan's pixels, not a resampled copy");
    // Any other resolution is rendered at the OCR resolution (300 dpi) as before.
    let pdf = jpeg_pdf(200.0);
    let page = Source::open(&pdf, DecodeLimits::default()).unwrap().page(0).unwrap();
    assert_eq!(page.dimensions(), (930, 1315));
}

/// A one-page PDF that shows `img` (at 300 dpi) under an invisible text
/// layer: each of `words` (text and pixel box) drawn in Helvetica whose
/// `ToUnicode` map sends every byte `b` to `to_unicode(b)` — what a font
/// with a broken or missing Unicode map gives a text extractor.
fn pdf_with_text_layer(
    img: &image::RgbImage,
    words: &[(String, [u32; 4])],
    to_unicode: impl Fn(u8) -> char,
) -> Vec<u8> {
    use pdf_writer::types::{SystemInfo, TextRenderingMode, UnicodeCmap};
    use pdf_writer::{Name as N, Str};
    let px = 72.0 / 300.0;
    let (w, h) = img.dimensions();
    let (wpt, hpt) = (w as f32 * px, h as f32 * px);
    let (catalog, tree, page, image_id, content_id, font_id, cmap_id) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6), Ref::new(7));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, wpt, hpt));
    p.parent(tree);
    p.contents(content_id);
    let mut res = p.resources();
    res.x_objects().pair(N(b"Im1"), image_id);
    res.fonts().pair(N(b"F1"), font_id);
    res.finish();
    p.finish();
    let mut image = pdf.image_xobject(image_id, img.as_raw());
    image.width(w as i32);
    image.height(h as i32);
    image.color_space().device_rgb();
    image.bits_per_component(8);
    image.finish();
    pdf.type1_font(font_id).base_font(N(b"Helvetica")).to_unicode(cmap_id);
    let info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
    let mut cmap = UnicodeCmap::<u8>::new(N(b"Broken"), info);
    for b in 0x21..=0xFFu8 {
        cmap.pair(b, to_unicode(b));
    }
    pdf.cmap(cmap_id, &cmap.finish());
    let mut content = Content::new();
    content.save_state();
    content.transform([wpt, 0.0, 0.0, hpt, 0.0, 0.0]);
    content.x_object(N(b"Im1"));
    content.restore_state();
    for (text, b) in words {
        let size = (b[3] - b[1]) as f32 * px * 0.8;
        let bytes: Vec<u8> = text.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
        content.begin_text();
        content.set_text_rendering_mode(TextRenderingMode::Invisible);
        content.set_font(N(b"F1"), size);
        content.set_text_matrix([1.0, 0.0, 0.0, 1.0, b[0] as f32 * px, hpt - b[3] as f32 * px + 0.2 * size]);
        content.show(Str(&bytes));
        content.end_text();
    }
    pdf.stream(content_id, &content.finish());
    pdf.finish()
}

/// The words the engine reads on `img`, with their boxes.
fn ocr_words(img: &image::RgbImage) -> Vec<(String, [u32; 4])> {
    let page = engine(ModelSize::Small).ocr_image(&img.clone().into(), 0).unwrap();
    page.blocks.iter().flat_map(|b| &b.lines).flat_map(|l| &l.words).map(|w| (w.text.clone(), w.bbox)).collect()
}

#[test]
fn garbage_text_layer_falls_back_to_ocr() {
    let Some(dir) = testdata_or_skip("garbage text layer") else { return };
    let img = image::open(dir.join("tess_eurotext.png")).unwrap().to_rgb8();
    let gt = std::fs::read_to_string(dir.join("tess_eurotext.txt")).unwrap();
    let words = ocr_words(&img);
    // Every code maps into the private-use area: a symbol-encoded font.
    let bytes = pdf_with_text_layer(&img, &words, |b| char::from_u32(0xE000 + u32::from(b)).expect("private use"));
    let doc = engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).unwrap();
    let page = &doc.pages[0];
    assert_eq!(page.source, PageSource::Ocr, "a private-use text layer is not trusted");
    let c = cer(&page.text, &gt);
    eprintln!("garbage text layer → OCR: CER {c:.3}");
    assert!(c < 0.03, "CER {c:.3}\n{}", page.text);
    // The same layer with a real Unicode map is taken as is, so the page
    // above was OCR'd because of its map. (Helvetica's advances differ from
    // the scanned font's, which shuffles a few words: compare words.)
    let bytes = pdf_with_text_layer(&img, &words, char::from);
    let doc = engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).unwrap();
    assert_eq!(doc.pages[0].source, PageSource::TextLayer);
    let f1 = bow_f1(&doc.pages[0].text, &gt);
    assert!(f1 >= 0.9, "BoW-F1 {f1:.3}\n{}", doc.pages[0].text);
}

#[test]
fn text_layer_in_a_shifted_encoding_falls_back_to_ocr() {
    let Some(dir) = testdata_or_skip("shifted text layer") else { return };
    let img = image::open(dir.join("tess_eurotext.png")).unwrap().to_rgb8();
    let gt = std::fs::read_to_string(dir.join("tess_eurotext.txt")).unwrap();
    let words = ocr_words(&img);
    // Every letter maps to the next one ("The" → "Uif"): plausible Latin
    // that passes every character test; only reading the pixels tells.
    let shifted = |b: u8| match b {
        b'z' => 'a',
        b'Z' => 'A',
        b'a'..=b'y' | b'A'..=b'Y' => char::from(b + 1),
        _ => char::from(b),
    };
    let bytes = pdf_with_text_layer(&img, &words, shifted);
    let doc = engine(ModelSize::Small).ocr_bytes(&bytes, |_, _| {}).unwrap();
    let page = &doc.pages[0];
    assert_eq!(page.source, PageSource::Ocr, "a text layer that does not read back is not trusted:\n{}", page.text);
    let c = cer(&page.text, &gt);
    eprintln!("shifted text layer → OCR: CER {c:.3}");
    assert!(c < 0.03, "CER {c:.3}\n{}", page.text);
}
