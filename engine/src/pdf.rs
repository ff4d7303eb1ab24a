//! PDF input: pages rendered one at a time with `hayro` (pure Rust, also in
//! wasm) at a resolution chosen for OCR — 300 dpi, lowered so the page stays
//! within the pixel bound. Encrypted files open with the empty user password;
//! others are refused as password protected.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::object::Stream;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::peniko::ImageAlphaType;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use image::RgbImage;

use crate::pixels::PagePixels;

use crate::decode::DecodeLimits;
use crate::error::{EngineError, Result};

/// Resolution pages are rendered at for OCR, unless the pixel bound forces less.
pub const OCR_DPI: f32 = 300.0;
/// Largest side hayro can render (its pixmaps are u16-sized).
const MAX_SIDE: f32 = 65_535.0;
/// An embedded image may be this many times the page pixel bound before the
/// page is refused: the renderer decodes images at full size, so a tiny file
/// can hold a 35000×35000 image that needs gigabytes.
const IMAGE_BOUND_FACTOR: u64 = 4;

fn pdf_error(reason: impl Into<String>) -> EngineError {
    EngineError::decode("pdf", reason.into())
}

/// An opened PDF whose pages are rendered on demand.
pub struct PdfSource {
    pdf: Pdf,
    limits: DecodeLimits,
}

impl PdfSource {
    /// Parses the document structure (no page is rendered) and checks the page count.
    pub fn open(bytes: &[u8], limits: DecodeLimits) -> Result<Self> {
        Self::open_data(bytes.to_vec().into(), limits)
    }

    /// [`PdfSource::open`] keeping the caller's shared bytes instead of a copy.
    pub fn open_shared(bytes: std::sync::Arc<Vec<u8>>, limits: DecodeLimits) -> Result<Self> {
        Self::open_data(bytes.into(), limits)
    }

    fn open_data(data: hayro::hayro_syntax::PdfData, limits: DecodeLimits) -> Result<Self> {
        let pdf = Pdf::new(data).map_err(|e| match e {
            LoadPdfError::Decryption(_) => EngineError::PasswordProtected,
            LoadPdfError::Invalid => pdf_error("the file is not a readable PDF"),
        })?;
        let pages = pdf.pages().len();
        if pages == 0 {
            return Err(pdf_error("the PDF has no pages"));
        }
        if pages > limits.max_pages {
            return Err(EngineError::TooManyPages { limit: limits.max_pages });
        }
        Ok(Self { pdf, limits })
    }

    /// Number of pages.
    pub fn page_count(&self) -> usize {
        self.pdf.pages().len()
    }

    /// Scale (pixels per point) for a page of `w`×`h` points.
    fn scale_for(&self, w: f32, h: f32) -> f32 {
        let by_pixels = (self.limits.max_pixels as f32 / (w * h).max(1.0)).sqrt();
        // Pixel sizes are `(points × scale) as u32` (hayro's rounding). A
        // 300-dpi scan of 877 rows is 210.48 pt, and 210.48 × 300/72 is
        // 876.99994 in f32: without the nudge (far below a pixel on any
        // page) such a page rendered a row short, every row resampled.
        (OCR_DPI / 72.0 * (1.0 + 1e-5)).min(by_pixels).min(MAX_SIDE / w.max(h).max(1.0))
    }

    /// Largest image (in pixels) drawn directly by the page or its forms.
    fn largest_image<'s>(stream_dicts: impl Iterator<Item = Stream<'s>>) -> u64 {
        stream_dicts
            .map(|s| {
                let d = s.dict();
                let w = d.get::<u32>(b"Width").unwrap_or(0);
                let h = d.get::<u32>(b"Height").unwrap_or(0);
                u64::from(w) * u64::from(h)
            })
            .max()
            .unwrap_or(0)
    }

    /// The page's text layer in the pixel space [`PdfSource::render`] uses.
    pub fn text_layer(&self, index: usize) -> Result<crate::pdf_text::TextLayer> {
        let pages = self.pdf.pages();
        let page = pages.get(index).ok_or_else(|| pdf_error(format!("no page {}", index + 1)))?;
        let (w, h) = page.render_dimensions();
        let scale = self.scale_for(w, h);
        let size = ((w * scale) as u32, (h * scale) as u32);
        let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
        Ok(crate::pdf_text::text_layer(page, transform, size))
    }

    /// Refuses pages drawing an image too large to decode (see [`IMAGE_BOUND_FACTOR`]).
    fn check_images(&self, page: &hayro::hayro_syntax::page::Page<'_>) -> Result<()> {
        let xobjects = &page.resources().x_objects;
        let streams = xobjects.keys().filter_map(|k| xobjects.get::<Stream<'_>>(k.as_ref()));
        let largest = Self::largest_image(streams);
        if largest > self.limits.max_pixels.saturating_mul(IMAGE_BOUND_FACTOR) {
            let side = (largest as f64).sqrt() as u64;
            return Err(EngineError::TooLarge { width: side, height: side, limit: self.limits.max_pixels });
        }
        Ok(())
    }

    /// Renders only `region` (`[x0, y0, x1, y1]` in the pixel space of
    /// [`PdfSource::render`]) of page `index`, on white: checking a few
    /// text-layer words against the recogniser needs a strip, not a page.
    pub fn render_region(&self, index: usize, region: [f32; 4]) -> Result<RgbImage> {
        use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
        let pages = self.pdf.pages();
        let page = pages.get(index).ok_or_else(|| pdf_error(format!("no page {}", index + 1)))?;
        self.check_images(page)?;
        let (w, h) = page.render_dimensions();
        let scale = self.scale_for(w, h);
        let (x0, y0) = (region[0].floor().max(0.0), region[1].floor().max(0.0));
        let side = |a: f32, b: f32| (b.ceil() - a).clamp(1.0, 8192.0) as u16;
        let (rw, rh) = (side(x0, region[2]), side(y0, region[3]));
        let transform = Affine::translate((-f64::from(x0), -f64::from(y0)))
            * Affine::scale(f64::from(scale))
            * page.initial_transform(true).to_kurbo();
        let cache = RenderCache::new();
        let pixmap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut ctx = RenderContext::new(rw, rh);
            hayro::render_into(
                page,
                &cache,
                &InterpreterSettings::default(),
                &RenderSettings::default(),
                &mut ctx,
                transform,
            );
            ctx.flush();
            let mut pixmap = Pixmap::new(rw, rh);
            let settings = RasterizerSettings { target_init: TargetInit::Clear(WHITE), ..Default::default() };
            ctx.render_with(&mut pixmap, &mut Resources::default(), settings);
            pixmap
        }))
        .map_err(|_| pdf_error(format!("page {} could not be rendered", index + 1)))?;
        let rgb: Vec<u8> = pixmap.data_as_u8_slice().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        RgbImage::from_raw(u32::from(rw), u32::from(rh), rgb)
            .ok_or_else(|| pdf_error("renderer returned a short buffer"))
    }

    /// The JPEG a page shows, when the page is nothing else: one baseline or
    /// progressive grey/RGB JPEG (`DCTDecode` alone, 8 bits, device colour,
    /// no mask or decode array) drawn over exactly the whole unrotated page,
    /// as scanners write. The searchable PDF embeds it as it is, the scan
    /// exactly as scanned (as OCRmyPDF does): rendering such a page and
    /// deflating its pixels took 170–250 ms a page, on one thread at the end
    /// of a job, and resampled the scan by a pixel (the output is then about
    /// the scan's size; clean text pages deflated smaller: 2.2 vs 3.7 MB for
    /// four pages). `None` for anything else (the page is then rendered).
    pub fn page_jpeg(&self, index: usize) -> Option<Vec<u8>> {
        // hayro is young and PDFs are hostile (see `render`): a panic while
        // looking means "not a plain scan", and the page is rendered (or fails) as before.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.find_page_jpeg(index))).ok().flatten()
    }

    fn find_page_jpeg(&self, index: usize) -> Option<Vec<u8>> {
        use hayro::hayro_syntax::Filter;
        use hayro::hayro_syntax::content::ops::{Transform, TypedInstruction};
        use hayro::hayro_syntax::object::Name;
        use hayro::hayro_syntax::page::Rotation;
        let pages = self.pdf.pages();
        let page = pages.get(index)?;
        if !matches!(page.rotation(), Rotation::None) {
            return None;
        }
        // The content: save/restore, transforms and one `Do`, nothing drawn besides.
        let (mut ctm, mut saved, mut drawn) = (Affine::IDENTITY, Vec::new(), None);
        let mut ops = page.typed_operations();
        while let Some(op) = ops.next() {
            match op {
                TypedInstruction::SaveState(_) => saved.push(ctm),
                TypedInstruction::RestoreState(_) => ctm = saved.pop()?,
                TypedInstruction::Transform(Transform(a, b, c, d, e, f)) => {
                    ctm *= Affine::new([a, b, c, d, e, f].map(|n| n.as_f64()));
                }
                TypedInstruction::XObject(name) if drawn.is_none() => drawn = Some((name.0.to_vec(), ctm)),
                _ => return None,
            }
        }
        let (name, ctm) = drawn?;
        // The unit square the image fills must be the page's box, upright.
        let bx = page.intersected_crop_box();
        let [a, b, c, d, e, f] = ctm.as_coeffs();
        let near = |x: f64, y: f64| (x - y).abs() <= 0.5;
        if !(near(b, 0.0)
            && near(c, 0.0)
            && near(a, bx.width())
            && near(d, bx.height())
            && near(e, bx.x0)
            && near(f, bx.y0))
        {
            return None;
        }
        let image = page.resources().get_x_object(&Name::new_unescaped(&name))?;
        let dict = image.dict();
        let key = |k: &[u8]| dict.get::<Name<'_>>(k).map(|n| n.to_vec());
        let plain = key(b"Subtype").as_deref() == Some(b"Image".as_slice())
            && matches!(key(b"ColorSpace").as_deref(), Some(b"DeviceGray" | b"DeviceRGB"))
            && dict.get::<u32>(b"BitsPerComponent") == Some(8)
            && [b"SMask".as_slice(), b"Mask", b"Decode", b"ImageMask"].iter().all(|k| !dict.contains_key(k))
            && image.filters().as_slice() == [Filter::DctDecode];
        plain.then(|| image.raw_data().into_owned())
    }

    /// Renders page `index` (zero-based) on a white background: RGB, or the
    /// page's scan as it is stored (grey stays grey).
    pub fn render(&self, index: usize) -> Result<PagePixels> {
        let pages = self.pdf.pages();
        let page = pages.get(index).ok_or_else(|| pdf_error(format!("no page {}", index + 1)))?;
        self.check_images(page)?;
        let (w, h) = page.render_dimensions();
        let scale = self.scale_for(w, h);
        // hayro's own rounding of the pixmap size.
        let size = ((w * scale) as u32, (h * scale) as u32);
        if let Some(scan) = self.page_jpeg(index).and_then(|jpeg| decode_scan(&jpeg, size)) {
            return Ok(scan);
        }
        let settings = PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE };
        let cache = RenderCache::new();
        // hayro is young and PDFs are hostile: a panic while rendering one
        // page becomes that page's error instead of taking the process down.
        let pixmap = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hayro::render(page, &cache, &InterpreterSettings::default(), &RenderSettings::default(), &settings)
        }))
        .map_err(|_| pdf_error(format!("page {} could not be rendered", index + 1)))?;
        let (pw, ph) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        if pw == 0 || ph == 0 {
            return Err(pdf_error(format!("page {} is empty", index + 1)));
        }
        // Opaque (white background), so premultiplied RGBA is plain RGBA.
        let rgb = rgba_into_rgb(pixmap.take_rgba8(ImageAlphaType::AlphaPremultiplied));
        RgbImage::from_raw(pw, ph, rgb)
            .map(PagePixels::Rgb)
            .ok_or_else(|| pdf_error("renderer returned a short buffer"))
    }
}

/// A page that is one full-page JPEG (`PdfSource::page_jpeg`), decoded as
/// it is when the scan already has the size the page renders at (a 300-dpi
/// scan): the render would only copy its pixels. hayro decodes the image to
/// RGBA (34 MB for a 300-dpi A4 page) and draws it into an RGBA pixmap (34
/// MB more) before the page is packed to RGB (25 MB); decoding the JPEG
/// holds nothing but the page: 8 MB for a grey scan, kept grey
/// ([`PagePixels`]), 25 MB for an RGB one.
/// With two pages read at once that render was at the server's heap peak.
/// `None` (render it) for another size or a JPEG that does not decode to
/// the grey or RGB its dictionary declared.
fn decode_scan(jpeg: &[u8], size: (u32, u32)) -> Option<PagePixels> {
    use image::{DynamicImage, ImageDecoder};
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(jpeg)).ok()?;
    // PDF readers ignore EXIF orientation; so does `from_decoder`.
    if decoder.dimensions() != size {
        return None;
    }
    match DynamicImage::from_decoder(decoder).ok()? {
        DynamicImage::ImageLuma8(grey) => Some(PagePixels::Grey(grey)),
        DynamicImage::ImageRgb8(rgb) => Some(PagePixels::Rgb(rgb)),
        _ => None,
    }
}

/// Packs RGBA pixels into RGB in the same buffer and gives the tail back. A
/// page is mapped memory (larger than the allocator's mmap threshold), so
/// shrinking it is an `mremap`, not a copy: a 300-dpi page no longer holds a
/// 34 MB RGBA and a 25 MB RGB buffer at once while another page is read.
fn rgba_into_rgb(mut px: Vec<u8>) -> Vec<u8> {
    let n = px.len() / 4;
    for i in 1..n {
        let (s, d) = (4 * i, 3 * i);
        px[d] = px[s];
        px[d + 1] = px[s + 1];
        px[d + 2] = px[s + 2];
    }
    px.truncate(3 * n);
    px.shrink_to_fit();
    px
}

#[cfg(test)]
mod tests {
    use super::rgba_into_rgb;

    #[test]
    fn rgba_pixels_pack_into_rgb_in_order() {
        let rgba = vec![1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255];
        assert_eq!(rgba_into_rgb(rgba), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(rgba_into_rgb(Vec::new()).is_empty());
    }
}
