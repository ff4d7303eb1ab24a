//! Input decoding: sniff the type from the bytes, check declared dimensions
//! against the pixel bound *before* allocating, then decode one page at a
//! time (multi-page TIFF pages are decoded on demand, never all at once).

use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::error::{BoxError, EngineError, Result};
use crate::pixels::PagePixels;
use ocrchat_core::InputFormat;

/// Bounds applied to every input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum pixels per page (width × height). Default 50 MP.
    pub max_pixels: u64,
    /// Maximum number of pages in one file.
    pub max_pages: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: 50_000_000, max_pages: 2000 }
    }
}

/// The `image` decoder for a raster format (`None` for PDF).
fn image_format(format: InputFormat) -> Option<ImageFormat> {
    Some(match format {
        InputFormat::Png => ImageFormat::Png,
        InputFormat::Jpeg => ImageFormat::Jpeg,
        InputFormat::Webp => ImageFormat::WebP,
        InputFormat::Gif => ImageFormat::Gif,
        InputFormat::Bmp => ImageFormat::Bmp,
        InputFormat::Tiff => ImageFormat::Tiff,
        InputFormat::Pdf => return None,
    })
}

/// Identifies the file type from its first bytes (the shared rule,
/// [`ocrchat_core::sniff`]); the file name is never trusted.
pub(crate) fn sniff(bytes: &[u8]) -> Result<InputFormat> {
    Ok(ocrchat_core::sniff(bytes)?)
}

/// Any input file: raster pages decoded or rendered one at a time.
pub enum Source<'a> {
    /// An image file (one page, or several for TIFF).
    Image(ImageSource<'a>),
    /// A PDF document.
    #[cfg(feature = "pdf")]
    Pdf(crate::pdf::PdfSource),
}

impl<'a> Source<'a> {
    /// Sniffs the bytes and opens the matching reader. Page counts are known
    /// after this, before any page is decoded (metering needs them first).
    pub fn open(bytes: &'a [u8], limits: DecodeLimits) -> Result<Self> {
        Ok(match sniff(bytes)? {
            #[cfg(feature = "pdf")]
            InputFormat::Pdf => Source::Pdf(crate::pdf::PdfSource::open(bytes, limits)?),
            #[cfg(not(feature = "pdf"))]
            InputFormat::Pdf => return Err(EngineError::NotBuiltIn { what: "PDF input", feature: "pdf" }),
            _ => Source::Image(ImageSource::open(bytes, limits)?),
        })
    }

    /// [`Source::open`] over bytes the source shares instead of borrowing:
    /// a source that can be handed to other threads for as long as they
    /// need it (the server reads several pages of one file at once on its
    /// inference pool). A PDF keeps these bytes rather than a copy.
    pub fn open_shared(bytes: Arc<Vec<u8>>, limits: DecodeLimits) -> Result<Source<'static>> {
        Ok(match sniff(&bytes)? {
            #[cfg(feature = "pdf")]
            InputFormat::Pdf => Source::Pdf(crate::pdf::PdfSource::open_shared(bytes, limits)?),
            #[cfg(not(feature = "pdf"))]
            InputFormat::Pdf => return Err(EngineError::NotBuiltIn { what: "PDF input", feature: "pdf" }),
            _ => Source::Image(ImageSource::open_bytes(Bytes::Shared(bytes), limits)?),
        })
    }

    /// The sniffed format.
    pub fn format(&self) -> InputFormat {
        match self {
            Source::Image(s) => s.format(),
            #[cfg(feature = "pdf")]
            Source::Pdf(_) => InputFormat::Pdf,
        }
    }

    /// Number of pages.
    pub fn page_count(&self) -> usize {
        match self {
            Source::Image(s) => s.page_count(),
            #[cfg(feature = "pdf")]
            Source::Pdf(p) => p.page_count(),
        }
    }

    /// Decodes or renders page `index`; grey images and scans stay grey.
    pub fn pixels(&self, index: usize) -> Result<PagePixels> {
        match self {
            Source::Image(s) => s.pixels(index),
            #[cfg(feature = "pdf")]
            Source::Pdf(p) => p.render(index),
        }
    }

    /// Decodes or renders page `index` to RGB ([`Self::pixels`], converted).
    pub fn page(&self, index: usize) -> Result<RgbImage> {
        self.pixels(index).map(PagePixels::into_rgb)
    }

    /// Page `index` as the JPEG it is stored as, shown upright without
    /// decoding: a JPEG file without an EXIF turn, or a PDF page that is
    /// nothing but a full-page scan (see `PdfSource::page_jpeg`). The
    /// searchable PDF embeds it as it is.
    pub fn page_jpeg(&self, index: usize) -> Option<Vec<u8>> {
        match self {
            Source::Image(s) => s.page_jpeg(index),
            #[cfg(feature = "pdf")]
            Source::Pdf(p) => p.page_jpeg(index),
        }
    }
}

/// The file an [`ImageSource`] decodes from: borrowed from the caller, or
/// shared with it ([`Source::open_shared`]).
enum Bytes<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<Vec<u8>>),
}

impl std::ops::Deref for Bytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Borrowed(b) => b,
            Bytes::Shared(b) => b,
        }
    }
}

/// A decoded-on-demand sequence of raster pages from one image file.
pub struct ImageSource<'a> {
    bytes: Bytes<'a>,
    format: InputFormat,
    pages: usize,
    limits: DecodeLimits,
}

impl<'a> ImageSource<'a> {
    /// The file itself when it is a JPEG shown as stored (no EXIF turn).
    fn page_jpeg(&self, index: usize) -> Option<Vec<u8>> {
        use image::ImageDecoder;
        if self.format != InputFormat::Jpeg || index != 0 {
            return None;
        }
        let upright = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&*self.bytes))
            .ok()
            .and_then(|mut d| d.orientation().ok())
            .is_none_or(|o| o == image::metadata::Orientation::NoTransforms);
        upright.then(|| self.bytes.to_vec())
    }

    /// Sniffs the file, reads headers and checks every page's declared size.
    /// No pixel data is decoded yet.
    pub fn open(bytes: &'a [u8], limits: DecodeLimits) -> Result<Self> {
        Self::open_bytes(Bytes::Borrowed(bytes), limits)
    }

    fn open_bytes(file: Bytes<'a>, limits: DecodeLimits) -> Result<Self> {
        let bytes: &[u8] = &file;
        let format = sniff(bytes)?;
        let pages = match format {
            InputFormat::Pdf => {
                return Err(EngineError::UnsupportedFormat("PDF is not an image".into()));
            }
            InputFormat::Tiff => tiff_page_count(bytes, limits)?,
            InputFormat::Gif => {
                // Frame sizes sit in plain headers; checking them first refuses
                // bombs even when the pixel data is missing or truncated.
                if let Some((w, h)) = gif_first_frame_extent(bytes) {
                    check_pixels(w.max(1), h.max(1), limits)?;
                }
                let (w, h) = image_dimensions(bytes, format)?;
                check_pixels(w, h, limits)?;
                1
            }
            _ => {
                let (w, h) = image_dimensions(bytes, format)?;
                check_pixels(w, h, limits)?;
                1
            }
        };
        Ok(Self { bytes: file, format, pages, limits })
    }

    /// The sniffed format.
    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// Number of pages (1 except for multi-page TIFF).
    pub fn page_count(&self) -> usize {
        self.pages
    }

    /// Decodes page `index`, applying EXIF orientation; grey stays grey.
    pub fn pixels(&self, index: usize) -> Result<PagePixels> {
        match self.format {
            InputFormat::Tiff => decode_tiff_page(&self.bytes, index, self.limits),
            _ => decode_image(&self.bytes, self.format, self.limits),
        }
    }
}

fn decode_err(format: InputFormat, e: impl Into<BoxError>) -> EngineError {
    EngineError::decode(format.name(), e)
}

fn check_pixels(w: u32, h: u32, limits: DecodeLimits) -> Result<()> {
    let (w, h) = (u64::from(w), u64::from(h));
    if w == 0 || h == 0 {
        return Err(EngineError::decode("image", "zero width or height"));
    }
    if w * h > limits.max_pixels {
        return Err(EngineError::TooLarge { width: w, height: h, limit: limits.max_pixels });
    }
    Ok(())
}

/// Extent (offset + size) of the first frame of a GIF, read from its image
/// descriptor without decoding anything.
fn gif_first_frame_extent(b: &[u8]) -> Option<(u32, u32)> {
    let u16_at = |i: usize| Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])));
    let flags = *b.get(10)?;
    let mut i = 13 + if flags & 0x80 != 0 { 3 << ((flags & 7) + 1) } else { 0 };
    loop {
        match *b.get(i)? {
            0x2C => return Some((u16_at(i + 1)? + u16_at(i + 5)?, u16_at(i + 3)? + u16_at(i + 7)?)),
            0x21 => {
                i += 2; // introducer + label, then data sub-blocks
                loop {
                    let len = usize::from(*b.get(i)?);
                    i += 1 + len;
                    if len == 0 {
                        break;
                    }
                }
            }
            _ => return None,
        }
    }
}

fn reader(bytes: &[u8], format: InputFormat) -> Result<ImageReader<Cursor<&[u8]>>> {
    let image_format = image_format(format).ok_or(EngineError::UnsupportedFormat(format.name().into()))?;
    Ok(ImageReader::with_format(Cursor::new(bytes), image_format))
}

fn image_dimensions(bytes: &[u8], format: InputFormat) -> Result<(u32, u32)> {
    let decoder = reader(bytes, format)?.into_decoder().map_err(|e| decode_err(format, e))?;
    Ok(decoder.dimensions())
}

fn decode_image(bytes: &[u8], format: InputFormat, limits: DecodeLimits) -> Result<PagePixels> {
    let mut reader = reader(bytes, format)?;
    let mut image_limits = image::Limits::default();
    // Decoders may need a few buffers of the image's size (e.g. RGBA + output).
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(16));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_err(format, e))?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h, limits)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_err(format, e))?;
    img.apply_orientation(orientation);
    Ok(match img {
        DynamicImage::ImageLuma8(grey) => PagePixels::Grey(grey),
        img => PagePixels::Rgb(flatten_to_rgb(img)),
    })
}

/// Converts to RGB, compositing any alpha channel onto white (transparent
/// screenshots would otherwise turn black and unreadable).
fn flatten_to_rgb(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let a = u32::from(src[3]);
        for c in 0..3 {
            dst[c] = ((u32::from(src[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

fn tiff_decoder(bytes: &[u8], limits: DecodeLimits) -> Result<tiff::decoder::Decoder<Cursor<&[u8]>>> {
    let mut tiff_limits = tiff::decoder::Limits::default();
    // 16-bit RGBA is the widest layout we accept: 8 bytes per pixel.
    tiff_limits.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(8)).unwrap_or(usize::MAX);
    tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map(|d| d.with_limits(tiff_limits))
        .map_err(|e| decode_err(InputFormat::Tiff, e))
}

fn tiff_page_count(bytes: &[u8], limits: DecodeLimits) -> Result<usize> {
    let mut dec = tiff_decoder(bytes, limits)?;
    let mut pages = 0;
    loop {
        let (w, h) = dec.dimensions().map_err(|e| decode_err(InputFormat::Tiff, e))?;
        check_pixels(w, h, limits)?;
        pages += 1;
        if pages > limits.max_pages {
            return Err(EngineError::TooManyPages { limit: limits.max_pages });
        }
        if !dec.more_images() {
            return Ok(pages);
        }
        dec.next_image().map_err(|e| decode_err(InputFormat::Tiff, e))?;
    }
}

fn decode_tiff_page(bytes: &[u8], index: usize, limits: DecodeLimits) -> Result<PagePixels> {
    use tiff::ColorType as C;
    use tiff::decoder::DecodingResult as D;
    let err = |e: tiff::TiffError| decode_err(InputFormat::Tiff, e);
    let mut dec = tiff_decoder(bytes, limits)?;
    dec.seek_to_image(index).map_err(err)?;
    let (w, h) = dec.dimensions().map_err(err)?;
    check_pixels(w, h, limits)?;
    let color = dec.colortype().map_err(err)?;
    let data = dec.read_image().map_err(err)?;
    let n = w as usize * h as usize;
    // Grey pages (fax scans are bilevel) stay grey; `rgb` then holds one byte a pixel.
    let grey = matches!(color, C::Gray(_) | C::GrayA(_));
    let mut rgb = Vec::with_capacity(if grey { n } else { n * 3 });
    let short = || EngineError::decode("tiff", "pixel data shorter than the image");
    match (color, &data) {
        (C::Gray(1), D::U8(buf)) => {
            let stride = (w as usize).div_ceil(8);
            if buf.len() < stride * h as usize {
                return Err(short());
            }
            for y in 0..h as usize {
                for x in 0..w as usize {
                    let bit = (buf[y * stride + x / 8] >> (7 - (x % 8))) & 1;
                    rgb.push(if bit == 1 { 255 } else { 0 });
                }
            }
        }
        (C::Gray(8) | C::GrayA(8) | C::RGB(8) | C::RGBA(8) | C::CMYK(8), D::U8(buf)) => {
            let ch = match color {
                C::Gray(_) => 1,
                C::GrayA(_) => 2,
                C::RGB(_) => 3,
                _ => 4,
            };
            if buf.len() < n * ch {
                return Err(short());
            }
            for px in buf.chunks_exact(ch).take(n) {
                match color {
                    C::Gray(_) | C::GrayA(_) => rgb.push(px[0]),
                    C::CMYK(_) => {
                        let k = 255 - u32::from(px[3]);
                        let c = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
                        rgb.extend_from_slice(&[c(px[0]), c(px[1]), c(px[2])]);
                    }
                    _ => rgb.extend_from_slice(&px[..3]),
                }
            }
        }
        (C::Gray(16) | C::RGB(16) | C::RGBA(16), D::U16(buf)) => {
            let ch = match color {
                C::Gray(_) => 1,
                C::RGB(_) => 3,
                _ => 4,
            };
            if buf.len() < n * ch {
                return Err(short());
            }
            for px in buf.chunks_exact(ch).take(n) {
                let v = |i: usize| (px[i] >> 8) as u8;
                if ch == 1 {
                    rgb.push(v(0));
                } else {
                    rgb.extend_from_slice(&[v(0), v(1), v(2)]);
                }
            }
        }
        (other, _) => {
            return Err(EngineError::UnsupportedFormat(format!("TIFF colour type {other:?}")));
        }
    }
    let pixels = if grey {
        image::GrayImage::from_raw(w, h, rgb).map(PagePixels::Grey)
    } else {
        RgbImage::from_raw(w, h, rgb).map(PagePixels::Rgb)
    };
    pixels.ok_or_else(short)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn sniffs_every_supported_format_from_bytes() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 4, image::Rgb([10, 200, 30])));
        for (format, expected) in [
            (ImageFormat::Png, InputFormat::Png),
            (ImageFormat::Jpeg, InputFormat::Jpeg),
            (ImageFormat::Bmp, InputFormat::Bmp),
            (ImageFormat::Tiff, InputFormat::Tiff),
            (ImageFormat::Gif, InputFormat::Gif),
            (ImageFormat::WebP, InputFormat::Webp),
        ] {
            let bytes = encode(&img, format);
            assert_eq!(sniff(&bytes).unwrap(), expected, "{format:?}");
            let src = ImageSource::open(&bytes, DecodeLimits::default()).unwrap();
            assert_eq!(src.page_count(), 1);
            let page = src.pixels(0).unwrap();
            assert_eq!(page.dimensions(), (8, 4), "{format:?}");
            assert!(matches!(page, PagePixels::Rgb(_)), "{format:?}");
        }
        assert_eq!(sniff(b"%PDF-1.7\n...").unwrap(), InputFormat::Pdf);
    }

    #[test]
    fn rejects_empty_and_unknown_bytes() {
        assert!(matches!(sniff(b""), Err(EngineError::Empty)));
        assert!(matches!(sniff(b"hello world, not an image"), Err(EngineError::UnsupportedFormat(_))));
    }

    /// The shared sniffing rule names every file as the `image` decoders would.
    #[test]
    fn shared_sniffing_agrees_with_the_decoders() {
        let mut heads: Vec<Vec<u8>> = vec![
            b"\x89PNG\r\n\x1a\n".to_vec(),
            vec![0xff, 0xd8, 0xff, 0xe0],
            b"GIF89a".to_vec(),
            b"GIF87a".to_vec(),
            b"RIFF\x10\0\0\0WEBPVP8 ".to_vec(),
            b"RIFF\x10\0\0\0WAVEfmt ".to_vec(),
            b"MM\0*".to_vec(),
            b"II*\0".to_vec(),
            b"DDS ".to_vec(),
            b"BM".to_vec(),
            vec![0, 0, 1, 0],
            b"#?RADIANCE".to_vec(),
            b"\0\0\0\x1cftypavif".to_vec(),
            vec![0x76, 0x2f, 0x31, 0x01],
            b"qoif".to_vec(),
            b"farbfeld".to_vec(),
            b"hello".to_vec(),
        ];
        heads.extend((1..=7).map(|i| format!("P{i}").into_bytes()));
        for head in heads {
            let ours = sniff(&head);
            match image::guess_format(&head) {
                Ok(f) => match image_format_of(f) {
                    Some(expected) => assert_eq!(ours.unwrap(), expected, "{head:?}"),
                    None => assert!(
                        matches!(&ours, Err(EngineError::UnsupportedFormat(n)) if *n == format!("{f:?}").to_lowercase()),
                        "{head:?}: {ours:?}"
                    ),
                },
                Err(_) => assert!(matches!(ours, Err(EngineError::UnsupportedFormat(_))), "{head:?}"),
            }
        }
    }

    fn image_format_of(f: ImageFormat) -> Option<InputFormat> {
        [InputFormat::Png, InputFormat::Jpeg, InputFormat::Webp, InputFormat::Gif, InputFormat::Bmp, InputFormat::Tiff]
            .into_iter()
            .find(|&i| image_format(i) == Some(f))
    }

    #[test]
    fn refuses_oversized_pages_before_decoding() {
        let img = DynamicImage::ImageLuma8(image::GrayImage::new(300, 200));
        let bytes = encode(&img, ImageFormat::Png);
        let limits = DecodeLimits { max_pixels: 10_000, ..Default::default() };
        assert!(matches!(
            ImageSource::open(&bytes, limits),
            Err(EngineError::TooLarge { width: 300, height: 200, .. })
        ));
    }

    #[test]
    fn transparent_pixels_become_white() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(2, 2, image::Rgba([0, 0, 0, 0])));
        let bytes = encode(&img, ImageFormat::Png);
        let page = ImageSource::open(&bytes, DecodeLimits::default()).unwrap().pixels(0).unwrap().into_rgb();
        assert_eq!(page.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn grey_images_stay_grey() {
        let img = DynamicImage::ImageLuma8(image::GrayImage::from_fn(6, 5, |x, y| image::Luma([(x * 30 + y) as u8])));
        for format in [ImageFormat::Png, ImageFormat::Tiff] {
            let bytes = encode(&img, format);
            let page = ImageSource::open(&bytes, DecodeLimits::default()).unwrap().pixels(0).unwrap();
            assert_eq!(page, PagePixels::Grey(img.to_luma8()), "{format:?}");
            assert_eq!(Source::open(&bytes, DecodeLimits::default()).unwrap().page(0).unwrap(), img.to_rgb8());
        }
    }

    #[test]
    fn multi_page_tiff_yields_every_page() {
        use tiff::encoder::{TiffEncoder, colortype};
        let mut buf = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut buf).unwrap();
        for (i, (w, h)) in [(10u32, 6u32), (7, 9), (4, 4)].into_iter().enumerate() {
            let data = vec![i as u8 * 50; (w * h) as usize];
            enc.write_image::<colortype::Gray8>(w, h, &data).unwrap();
        }
        let bytes = buf.into_inner();
        let src = ImageSource::open(&bytes, DecodeLimits::default()).unwrap();
        assert_eq!(src.page_count(), 3);
        let p1 = src.pixels(1).unwrap().into_rgb();
        assert_eq!(p1.dimensions(), (7, 9));
        assert_eq!(p1.get_pixel(3, 3).0, [50, 50, 50]);
        assert_eq!(src.pixels(2).unwrap().into_rgb().get_pixel(0, 0).0, [100, 100, 100]);
        let limits = DecodeLimits { max_pages: 2, ..Default::default() };
        assert!(matches!(ImageSource::open(&bytes, limits), Err(EngineError::TooManyPages { limit: 2 })));
    }
}
