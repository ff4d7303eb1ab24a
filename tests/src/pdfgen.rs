//! Scanned PDFs built in tests from page images (pdf-writer): one image per
//! page, no text layer, so every page goes through OCR.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref};

/// A PDF with one page per image, each scanned at `dpi`.
pub fn scanned_pdf(pages: &[&image::RgbImage], dpi: f32) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(3 + 3 * i as i32)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    for (i, img) in pages.iter().enumerate() {
        let (page_id, image_id, content_id) = (page_ids[i], Ref::new(4 + 3 * i as i32), Ref::new(5 + 3 * i as i32));
        let (w, h) = img.dimensions();
        let (wpt, hpt) = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, wpt, hpt));
        p.parent(tree);
        p.contents(content_id);
        p.resources().x_objects().pair(Name(b"Im1"), image_id);
        p.finish();
        let mut image = pdf.image_xobject(image_id, img.as_raw());
        image.width(w as i32);
        image.height(h as i32);
        image.color_space().device_rgb();
        image.bits_per_component(8);
        image.finish();
        let mut content = Content::new();
        content.save_state();
        content.transform([wpt, 0.0, 0.0, hpt, 0.0, 0.0]);
        content.x_object(Name(b"Im1"));
        content.restore_state();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

/// A PDF with one grey JPEG image per page (`quality` 1–100), each scanned
/// at `dpi`: what a document scanner writes, a fraction of the raw pages' size.
pub fn scanned_jpeg_pdf(pages: &[&image::GrayImage], dpi: f32, quality: u8) -> Vec<u8> {
    use pdf_writer::Filter;
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..pages.len()).map(|i| Ref::new(3 + 3 * i as i32)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(pages.len() as i32);
    for (i, img) in pages.iter().enumerate() {
        let (page_id, image_id, content_id) = (page_ids[i], Ref::new(4 + 3 * i as i32), Ref::new(5 + 3 * i as i32));
        let (w, h) = img.dimensions();
        let (wpt, hpt) = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, wpt, hpt));
        p.parent(tree);
        p.contents(content_id);
        p.resources().x_objects().pair(Name(b"Im1"), image_id);
        p.finish();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(*img)
            .expect("a grey image encodes as JPEG");
        let mut image = pdf.image_xobject(image_id, &jpeg);
        image.filter(Filter::DctDecode);
        image.width(w as i32);
        image.height(h as i32);
        image.color_space().device_gray();
        image.bits_per_component(8);
        image.finish();
        let mut content = Content::new();
        content.save_state();
        content.transform([wpt, 0.0, 0.0, hpt, 0.0, 0.0]);
        content.x_object(Name(b"Im1"));
        content.restore_state();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}
