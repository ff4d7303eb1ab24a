//! Scanned PDFs built in tests from page images (pdf-writer): one image per
//! page, no text layer, so every page goes through OCR.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref};

/// A PDF with one page per image, each scanned at `dpi`.
pub fn scanned_pdf(pages: &[&image::RgbImage], dpi: f32) -> Vec<u8> {
    let sizes: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
    image_pages(&sizes, dpi, |pdf, id, i| {
        let (w, h) = sizes[i];
        let mut image = pdf.image_xobject(id, pages[i].as_raw());
        image.width(w as i32);
        image.height(h as i32);
        image.color_space().device_rgb();
        image.bits_per_component(8);
        image.finish();
    })
}

/// A PDF with one grey JPEG image per page (`quality` 1–100), each scanned
/// at `dpi`: what a document scanner writes, a fraction of the raw pages' size.
pub fn scanned_jpeg_pdf(pages: &[&image::GrayImage], dpi: f32, quality: u8) -> Vec<u8> {
    let sizes: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
    image_pages(&sizes, dpi, |pdf, id, i| {
        let (w, h) = sizes[i];
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode_image(pages[i])
            .expect("a grey image encodes as JPEG");
        let mut image = pdf.image_xobject(id, &jpeg);
        image.filter(Filter::DctDecode);
        image.width(w as i32);
        image.height(h as i32);
        image.color_space().device_gray();
        image.bits_per_component(8);
        image.finish();
    })
}

/// The page tree both builders share: page `i` (`sizes[i]` pixels at `dpi`)
/// shows the image XObject `write_image(pdf, id, i)` writes, full page.
fn image_pages(sizes: &[(u32, u32)], dpi: f32, mut write_image: impl FnMut(&mut Pdf, Ref, usize)) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    let page_ids: Vec<Ref> = (0..sizes.len()).map(|i| Ref::new(3 + 3 * i as i32)).collect();
    pdf.pages(tree).kids(page_ids.iter().copied()).count(sizes.len() as i32);
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let (page_id, image_id, content_id) = (page_ids[i], Ref::new(4 + 3 * i as i32), Ref::new(5 + 3 * i as i32));
        let (wpt, hpt) = (w as f32 * 72.0 / dpi, h as f32 * 72.0 / dpi);
        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, wpt, hpt));
        p.parent(tree);
        p.contents(content_id);
        p.resources().x_objects().pair(Name(b"Im1"), image_id);
        p.finish();
        write_image(&mut pdf, image_id, i);
        let mut content = Content::new();
        content.save_state();
        content.transform([wpt, 0.0, 0.0, hpt, 0.0, 0.0]);
        content.x_object(Name(b"Im1"));
        content.restore_state();
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}
