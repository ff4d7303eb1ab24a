//! Searchable PDF: each page image drawn full-page with an invisible text
//! layer (render mode 3) on top, word by word, so viewers can select and
//! search the text and `pdftotext` extracts it.
//!
//! The text uses the approach of Tesseract's PDF renderer: one Type0 font
//! whose CIDFontType2 descendant embeds a tiny "glyphless" TrueType program
//! (generated here, every glyph empty and half an em wide). Each character is
//! written as a 2-byte code (its UTF-16 code unit for the BMP; astral
//! characters get a private-use code), `CIDToGIDMap /Identity`, a `W` array
//! giving every CID the same width and a `ToUnicode` CMap mapping the codes
//! back to Unicode. Latin, CJK and everything else go through the same path.
//!
//! The document model does not carry the page images: [`from_original`]
//! re-decodes them from the file the document was read from (what
//! [`super::export`] calls), and [`render`] takes each page's image
//! either as JPEG bytes (embedded as-is, `DCTDecode`) or as RGB pixels
//! (compressed with `FlateDecode`). Output is deterministic.

use std::collections::BTreeMap;

use image::RgbImage;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, TextRenderingMode, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

use crate::decode::{DecodeLimits, Source};
use crate::document::{Document, Page, PageSource};
use crate::error::{EngineError, Result};
use crate::{ExportFormat, InputFormat};

/// Resolution assumed for page images when the caller does not know better.
pub const DEFAULT_DPI: f32 = 300.0;

/// Pixels of one page image.
#[derive(Clone, Debug, PartialEq)]
pub enum PageImageData {
    /// A baseline or progressive JPEG file, embedded unchanged.
    Jpeg {
        /// The JPEG file.
        bytes: Vec<u8>,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Colour components (1 grey, 3 RGB).
        components: u8,
    },
    /// RGB pixels, compressed losslessly.
    Rgb(RgbImage),
}

/// The image of one page, upright (as the document's page was read).
#[derive(Clone, Debug, PartialEq)]
pub struct PageImage {
    /// The pixels.
    pub data: PageImageData,
    /// Resolution of the image: the page is `pixels × 72 / dpi` points.
    pub dpi: f32,
}

impl PageImage {
    /// RGB pixels at [`DEFAULT_DPI`].
    pub fn rgb(image: RgbImage) -> Self {
        Self { data: PageImageData::Rgb(image), dpi: DEFAULT_DPI }
    }

    /// A JPEG file at [`DEFAULT_DPI`], embedded as-is. Reads only the header;
    /// grey and RGB JPEGs are accepted (CMYK ones are not: decode them to RGB).
    pub fn jpeg(bytes: Vec<u8>) -> Result<Self> {
        let (width, height, components) =
            jpeg_header(&bytes).ok_or_else(|| EngineError::export(ExportFormat::Pdf, "not a grey or RGB JPEG"))?;
        Ok(Self { data: PageImageData::Jpeg { bytes, width, height, components }, dpi: DEFAULT_DPI })
    }

    /// Sets the resolution.
    pub fn with_dpi(mut self, dpi: f32) -> Self {
        self.dpi = dpi;
        self
    }

    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        match &self.data {
            PageImageData::Jpeg { width, height, .. } => (*width, *height),
            PageImageData::Rgb(img) => img.dimensions(),
        }
    }
}

/// Width, height and component count from a JPEG's SOF marker, if it has
/// 1 or 3 components and an Adobe marker does not declare CMYK/YCCK.
fn jpeg_header(bytes: &[u8]) -> Option<(u32, u32, u8)> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return None;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let seg = bytes.get(i + 4..i + 2 + len)?;
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if seg.len() < 6 {
                return None;
            }
            let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
            let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
            let components = seg[5];
            // Baseline/extended/progressive Huffman only: what DCTDecode reads.
            if !matches!(marker, 0xC0..=0xC2) || !matches!(components, 1 | 3) || width == 0 || height == 0 {
                return None;
            }
            return Some((width, height, components));
        }
        if marker == 0xDA {
            return None;
        }
        i += 2 + len;
    }
    None
}

const FONT_NAME: &[u8] = b"GlyphLessFont";
/// Advance of every glyph, in 1/1000 em.
const GLYPH_WIDTH: f32 = 500.0;
const ASCENT: f32 = 800.0;
const DESCENT: f32 = -200.0;

/// Renders `doc` as a searchable PDF. `pages(i)` supplies the upright image of
/// page `i` (called once per page, in order, so only one image needs to be in
/// memory at a time). Word boxes are scaled when the image size differs from
/// the page's.
pub fn render(doc: &Document, pages: &mut dyn FnMut(usize) -> Result<PageImage>) -> Result<Vec<u8>> {
    let codes = CodeMap::new(doc);
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let (catalog, tree, font, cid_font, descriptor, font_file, to_unicode) =
        (alloc(), alloc(), alloc(), alloc(), alloc(), alloc(), alloc());
    let page_ids: Vec<(Ref, Ref, Ref)> = doc.pages.iter().map(|_| (alloc(), alloc(), alloc())).collect();

    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().map(|p| p.0)).count(page_ids.len() as i32);

    for (page, &(page_id, image_id, content_id)) in doc.pages.iter().zip(&page_ids) {
        let image = pages(page.index)?;
        let (iw, ih) = image.dimensions();
        if iw == 0 || ih == 0 {
            return Err(EngineError::export(ExportFormat::Pdf, format!("page {} image is empty", page.index + 1)));
        }
        let dpi = if image.dpi.is_finite() && image.dpi > 0.0 { image.dpi } else { DEFAULT_DPI };
        let (wpt, hpt) = (iw as f32 * 72.0 / dpi, ih as f32 * 72.0 / dpi);

        let mut p = pdf.page(page_id);
        p.media_box(Rect::new(0.0, 0.0, wpt, hpt));
        p.parent(tree);
        p.contents(content_id);
        let mut resources = p.resources();
        resources.x_objects().pair(Name(b"Im0"), image_id);
        resources.fonts().pair(Name(b"F0"), font);
        resources.finish();
        p.finish();

        match &image.data {
            PageImageData::Jpeg { bytes, width, height, components } => {
                let mut x = pdf.image_xobject(image_id, bytes);
                x.filter(Filter::DctDecode);
                x.width(*width as i32);
                x.height(*height as i32);
                if *components == 1 {
                    x.color_space().device_gray();
                } else {
                    x.color_space().device_rgb();
                }
                x.bits_per_component(8);
            }
            PageImageData::Rgb(img) => {
                let (raw, channels, bits) = pack_pixels(img);
                let packed = miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6);
                drop(raw);
                let mut x = pdf.image_xobject(image_id, &packed);
                x.filter(Filter::FlateDecode);
                x.width(iw as i32);
                x.height(ih as i32);
                if channels == 1 {
                    x.color_space().device_gray();
                } else {
                    x.color_space().device_rgb();
                }
                x.bits_per_component(bits);
            }
        }
        drop(image);

        let content = page_content(page, &codes, wpt, hpt);
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&content, 6);
        pdf.stream(content_id, &packed).filter(Filter::FlateDecode);
    }

    // The font: Type0 → CIDFontType2 → descriptor → glyphless TrueType.
    let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
    pdf.type0_font(font)
        .base_font(Name(FONT_NAME))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    let mut cid = pdf.cid_font(cid_font);
    cid.subtype(CidFontType::Type2)
        .base_font(Name(FONT_NAME))
        .system_info(system_info)
        .font_descriptor(descriptor)
        .default_width(GLYPH_WIDTH)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    cid.widths().same(0, u16::MAX, GLYPH_WIDTH);
    cid.finish();
    pdf.font_descriptor(descriptor)
        .name(Name(FONT_NAME))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(0.0, DESCENT, GLYPH_WIDTH, ASCENT))
        .italic_angle(0.0)
        .ascent(ASCENT)
        .descent(DESCENT)
        .cap_height(ASCENT)
        .stem_v(80.0)
        .font_file2(font_file);
    let ttf = glyphless_ttf();
    pdf.stream(font_file, &ttf).pair(Name(b"Length1"), ttf.len() as i32);
    let mut cmap = UnicodeCmap::new(Name(b"OcrChat-UTF16"), system_info);
    for (&code, &c) in &codes.to_char {
        cmap.pair(code, c);
    }
    let cmap = cmap.finish();
    pdf.cmap(to_unicode, &cmap);

    Ok(pdf.finish())
}

/// The smallest lossless layout of `img`: 1-bit grey for black-and-white
/// scans, 8-bit grey for grey ones, RGB otherwise. Returns the samples
/// (rows padded to whole bytes), channels and bits per component.
fn pack_pixels(img: &RgbImage) -> (Vec<u8>, u8, i32) {
    let grey = img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
    if !grey {
        return (img.as_raw().clone(), 3, 8);
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    if img.pixels().all(|p| p[0] == 0 || p[0] == 255) {
        let row_bytes = w.div_ceil(8);
        let mut out = vec![0u8; row_bytes * h];
        for (x, y, p) in img.enumerate_pixels() {
            if p[0] == 255 {
                out[y as usize * row_bytes + x as usize / 8] |= 0x80 >> (x % 8);
            }
        }
        return (out, 1, 1);
    }
    (img.pixels().map(|p| p[0]).collect(), 1, 8)
}

/// Character ↔ 2-byte code assignment for the whole document.
struct CodeMap {
    /// Astral characters → private-use codes.
    astral: BTreeMap<char, u16>,
    /// Every used code → its character (for the ToUnicode CMap).
    to_char: BTreeMap<u16, char>,
}

impl CodeMap {
    fn new(doc: &Document) -> Self {
        let chars = || {
            doc.pages
                .iter()
                .flat_map(|p| &p.blocks)
                .flat_map(|b| &b.lines)
                .flat_map(|l| &l.words)
                .flat_map(|w| w.text.chars())
                .filter(|&c| !c.is_control())
        };
        let mut to_char = BTreeMap::new();
        for c in chars().filter(|&c| (c as u32) <= 0xFFFF) {
            to_char.insert(c as u32 as u16, c);
        }
        let mut astral = BTreeMap::new();
        let mut free = (0xE000u16..=0xF8FF).filter(|code| !to_char.contains_key(code));
        let mut astral_chars: Vec<char> = chars().filter(|&c| (c as u32) > 0xFFFF).collect();
        astral_chars.sort_unstable();
        astral_chars.dedup();
        for c in astral_chars {
            // 6400 private-use codes; a page of more distinct astral
            // characters than that loses the rest.
            if let Some(code) = free.next() {
                astral.insert(c, code);
            }
        }
        for (&c, &code) in &astral {
            to_char.insert(code, c);
        }
        Self { astral, to_char }
    }

    /// The big-endian 2-byte codes of `text`.
    fn encode(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars().filter(|c| !c.is_control()) {
            let code = if (c as u32) <= 0xFFFF { Some(c as u32 as u16) } else { self.astral.get(&c).copied() };
            if let Some(code) = code {
                out.extend_from_slice(&code.to_be_bytes());
            }
        }
        out
    }
}

/// The content stream: the image full-page, then the invisible words.
fn page_content(page: &Page, codes: &CodeMap, wpt: f32, hpt: f32) -> Vec<u8> {
    let mut content = Content::new();
    content.save_state();
    content.transform([wpt, 0.0, 0.0, hpt, 0.0, 0.0]);
    content.x_object(Name(b"Im0"));
    content.restore_state();

    // Word boxes are in the page's pixels; the image may differ in size.
    let sx = wpt / page.width.max(1) as f32;
    let sy = hpt / page.height.max(1) as f32;
    content.begin_text();
    content.set_text_rendering_mode(TextRenderingMode::Invisible);
    for line in page.blocks.iter().flat_map(|b| &b.lines) {
        let n_words = line.words.len();
        for (i, word) in line.words.iter().enumerate() {
            // A trailing space between words of a line helps extractors
            // that do not infer spaces from gaps; it is squeezed into the
            // word's box with the rest.
            let cjk_next = line.words.get(i + 1).is_some_and(|n| n.text.chars().next().is_some_and(is_cjk))
                && word.text.chars().last().is_some_and(is_cjk);
            // Right-to-left words are drawn in visual order (the space stays
            // last: extractors join runs into lines by it).
            let drawn = visual_order(&word.text);
            let text = if i + 1 < n_words && !cjk_next { format!("{drawn} ") } else { drawn };
            let encoded = codes.encode(&text);
            let n = encoded.len() / 2;
            // Words take their line's top and bottom: one baseline and size
            // per line, so extractors keep the line together (Hebrew letters
            // with descenders moved single words onto lines of their own).
            let ([x0, _, x1, _], [_, y0, _, y1]) = (word.bbox, line.bbox);
            if n == 0 || x1 <= x0 || y1 <= y0 {
                continue;
            }
            let (w, h) = ((x1 - x0) as f32 * sx, (y1 - y0) as f32 * sy);
            // Glyph box (descent..ascent) = word box height.
            let size = h * 1000.0 / (ASCENT - DESCENT);
            let advance = n as f32 * GLYPH_WIDTH / 1000.0 * size;
            let scaling = (100.0 * w / advance).clamp(1.0, 10_000.0);
            let baseline = hpt - y1 as f32 * sy - DESCENT / 1000.0 * size;
            content.set_font(Name(b"F0"), round(size));
            content.set_horizontal_scaling(round(scaling));
            content.set_text_matrix([1.0, 0.0, 0.0, 1.0, round(x0 as f32 * sx), round(baseline)]);
            content.show(Str(&encoded));
        }
    }
    content.end_text();
    content.finish().into_vec()
}

/// Two decimals: smaller streams, same output everywhere.
/// Strong right-to-left letters: Hebrew, Arabic, Syriac, Thaana, N'Ko and
/// the Arabic/Hebrew presentation forms.
fn is_rtl(c: char) -> bool {
    matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// A word's characters in the order they sit on the page, left to right:
/// text extractors (pdftotext, viewers' copy) take glyphs of a right-to-left
/// script drawn left to right as visual order and reverse them, so the
/// logical-order text of Arabic or Hebrew words is drawn reversed — runs of
/// other characters inside (digits, Latin) keep their own order, as the
/// Unicode bidi algorithm lays them out.
fn visual_order(text: &str) -> String {
    if !text.chars().any(is_rtl) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut runs: Vec<&[char]> = Vec::new();
    let mut start = 0;
    for i in 1..=chars.len() {
        let boundary =
            i == chars.len() || (is_rtl(chars[i]) || chars[i] == ' ') != (is_rtl(chars[start]) || chars[start] == ' ');
        if boundary {
            runs.push(&chars[start..i]);
            start = i;
        }
    }
    runs.iter()
        .rev()
        .flat_map(|run| {
            let rtl = run.iter().any(|&c| is_rtl(c) || c == ' ');
            let mut run = run.to_vec();
            if rtl {
                run.reverse();
            }
            run
        })
        .collect()
}

fn round(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// A minimal valid TrueType font: two empty glyphs (`.notdef` and one
/// shared glyph), each half an em wide, 1000 units per em.
pub fn glyphless_ttf() -> Vec<u8> {
    fn u16s(v: &[u16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_be_bytes()).collect()
    }
    let i16u = |v: i16| v as u16;
    let head = {
        let mut t = Vec::new();
        t.extend(0x0001_0000u32.to_be_bytes()); // version
        t.extend(0x0001_0000u32.to_be_bytes()); // fontRevision
        t.extend(0u32.to_be_bytes()); // checkSumAdjustment, patched below
        t.extend(0x5F0F_3CF5u32.to_be_bytes()); // magic
        t.extend(u16s(&[0x000B, 1000])); // flags, unitsPerEm
        t.extend([0u8; 16]); // created, modified
        t.extend(u16s(&[0, i16u(-200), 500, 800])); // xMin yMin xMax yMax
        t.extend(u16s(&[0, 3, 2, 0, 0])); // macStyle lowestRecPPEM fontDirectionHint indexToLocFormat glyphDataFormat
        t
    };
    let hhea = u16s(&[1, 0, 800, i16u(-200), 0, 500, 0, 0, 500, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    let maxp = {
        let mut t = 0x0001_0000u32.to_be_bytes().to_vec();
        t.extend(u16s(&[2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]));
        t
    };
    let hmtx = u16s(&[500, 0, 500, 0]);
    let loca = u16s(&[0, 0, 0]);
    let glyf: Vec<u8> = Vec::new();
    // cmap: one (3,1) format-4 subtable mapping nothing (only the 0xFFFF end segment).
    let cmap = u16s(&[0, 1, 3, 1, 0, 12, 4, 24, 0, 2, 2, 0, 0, 0xFFFF, 0, 0xFFFF, 1, 0]);
    let name = {
        let records: [(u16, &str); 4] =
            [(1, "GlyphLessFont"), (2, "Regular"), (4, "GlyphLessFont"), (6, "GlyphLessFont")];
        let mut strings = Vec::new();
        let mut t = u16s(&[0, records.len() as u16, 6 + 12 * records.len() as u16]);
        for (id, s) in records {
            let bytes = u16s(&s.encode_utf16().collect::<Vec<_>>());
            t.extend(u16s(&[3, 1, 0x409, id, bytes.len() as u16, strings.len() as u16]));
            strings.extend(bytes);
        }
        t.extend(strings);
        t
    };
    let post = {
        let mut t = 0x0003_0000u32.to_be_bytes().to_vec();
        t.extend(0u32.to_be_bytes()); // italicAngle
        t.extend(u16s(&[i16u(-100), 50]));
        t.extend(1u32.to_be_bytes()); // isFixedPitch
        t.extend([0u8; 16]);
        t
    };
    let os2 = {
        let mut t = u16s(&[1, 500, 400, 5, 0]);
        t.extend(u16s(&[650, 600, 0, 75, 650, 600, 0, 350, 50, 300, 0])); // sub/superscript, strikeout, family class
        t.extend([0u8; 10]); // panose
        t.extend([0u8; 16]); // unicode ranges
        t.extend(*b"NONE");
        t.extend(u16s(&[0x0040, 0x0020, 0xFFFF, 800, i16u(-200), 0, 800, 200]));
        t.extend(1u32.to_be_bytes()); // code page range 1: Latin 1
        t.extend(0u32.to_be_bytes());
        t
    };
    debug_assert_eq!(os2.len(), 86);
    debug_assert_eq!(head.len(), 54);
    let tables: [(&[u8; 4], Vec<u8>); 10] = [
        (b"OS/2", os2),
        (b"cmap", cmap),
        (b"glyf", glyf),
        (b"head", head),
        (b"hhea", hhea),
        (b"hmtx", hmtx),
        (b"loca", loca),
        (b"maxp", maxp),
        (b"name", name),
        (b"post", post),
    ];
    fn checksum(data: &[u8]) -> u32 {
        data.chunks(4).fold(0u32, |sum, c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            sum.wrapping_add(u32::from_be_bytes(word))
        })
    }
    let n = tables.len() as u16;
    let mut out = 0x0001_0000u32.to_be_bytes().to_vec();
    out.extend(u16s(&[n, 128, 3, n * 16 - 128]));
    let mut offset = 12 + 16 * tables.len();
    let mut body = Vec::new();
    let mut head_offset = 0;
    for (tag, data) in &tables {
        if *tag == b"head" {
            head_offset = offset;
        }
        out.extend(*tag);
        out.extend(checksum(data).to_be_bytes());
        out.extend((offset as u32).to_be_bytes());
        out.extend((data.len() as u32).to_be_bytes());
        let padded = data.len().div_ceil(4) * 4;
        body.extend(data);
        body.resize(body.len() + padded - data.len(), 0);
        offset += padded;
    }
    out.extend(body);
    let adjust = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
    out[head_offset + 8..head_offset + 12].copy_from_slice(&adjust.to_be_bytes());
    out
}

/// A searchable PDF of `doc`, re-decoding the pages of `bytes` (the file
/// `doc` was read from; CLI, server and worker all export this way) one at a
/// time. A born-digital PDF whose every page was read from its text layer is
/// already searchable and is returned unchanged, byte for byte. A JPEG page
/// read upright (a JPEG file, a scanned PDF's page: [`Source::page_jpeg`]) is
/// embedded as-is; other pages are turned as the OCR
/// turned them and compressed losslessly. In a PDF that mixes born-digital
/// and scanned pages every page is rendered (born-digital ones get their
/// exact text as the invisible layer): copying original pages into the
/// output would need a second PDF library in the engine.
pub fn from_original(doc: &Document, bytes: &[u8], limits: DecodeLimits) -> Result<Vec<u8>> {
    use image::imageops::{rotate90, rotate180, rotate270};
    let source = Source::open(bytes, limits)?;
    let all_text_layer = source.format() == InputFormat::Pdf
        && doc.pages.len() == source.page_count()
        && doc.pages.iter().enumerate().all(|(i, p)| p.index == i && p.source == PageSource::TextLayer);
    if all_text_layer {
        return Ok(bytes.to_vec());
    }
    render(doc, &mut |i| {
        let page = doc
            .pages
            .iter()
            .find(|p| p.index == i)
            .ok_or_else(|| EngineError::export(ExportFormat::Pdf, format!("page {i} is not in the document")))?;
        // A JPEG page (a JPEG file, a scanned PDF's page) read upright keeps
        // its JPEG, at the size the rendered page would have.
        if page.rotation == 0
            && let Some(jpeg) = source.page_jpeg(i).and_then(|b| PageImage::jpeg(b).ok())
        {
            let (w, h) = jpeg.dimensions();
            // The page was read in the same shape (a different aspect would misplace the text).
            if (w as f32 / h as f32 - page.width as f32 / page.height.max(1) as f32).abs() < 0.01 {
                let dpi = w as f32 * DEFAULT_DPI / page.width.max(1) as f32;
                return Ok(jpeg.with_dpi(dpi));
            }
        }
        let img = source.page(i)?;
        let img = match page.rotation {
            90 => rotate90(&img),
            180 => rotate180(&img),
            270 => rotate270(&img),
            _ => img,
        };
        Ok(PageImage::rgb(img))
    })
}

#[cfg(test)]
mod tests {
    // The structure checks parse the output with hayro (feature `pdf`).
    #![cfg_attr(not(feature = "pdf"), allow(dead_code))]
    use super::*;

    #[test]
    fn right_to_left_words_are_drawn_in_visual_order() {
        assert_eq!(visual_order("ذهب "), " بهذ");
        assert_eq!(visual_order("abc "), "abc ");
        assert_eq!(visual_order("סעיף 12"), "12 ףיעס", "digits keep their order");
        assert_eq!(visual_order(""), "");
    }
    use crate::document::{Block, Line, Word};

    fn word(text: &str, bbox: [u32; 4]) -> Word {
        Word { text: text.into(), bbox, confidence: 0.9 }
    }

    fn doc() -> Document {
        let line = |words: Vec<Word>| {
            let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            Line { text, bbox: [0, 0, 1, 1], confidence: 0.9, words }
        };
        let page = |index: usize, width: u32, height: u32, lines: Vec<Line>| {
            let mut p = Page {
                index,
                width,
                height,
                blocks: vec![Block {
                    text: String::new(),
                    bbox: [0, 0, width, height],
                    confidence: 0.9,
                    lines,
                    ..Block::default()
                }],
                ..Page::default()
            };
            p.blocks[0].text = p.blocks[0].lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
            p.refresh_text();
            p
        };
        Document::from_pages(vec![
            page(0, 600, 300, vec![line(vec![word("Hello", [10, 10, 110, 40]), word("wörld", [120, 10, 220, 40])])]),
            page(1, 300, 600, vec![line(vec![word("你好世界", [10, 10, 210, 60]), word("𝔸x", [220, 10, 260, 60])])]),
        ])
    }

    fn images(i: usize) -> Result<PageImage> {
        let (w, h) = if i == 0 { (600, 300) } else { (300, 600) };
        Ok(PageImage::rgb(RgbImage::from_pixel(w, h, image::Rgb([250, 250, 250]))))
    }

    #[test]
    #[cfg(feature = "pdf")]
    fn structure_parses_with_pages_fonts_and_to_unicode() {
        use hayro::hayro_syntax::Pdf as Parsed;
        use hayro::hayro_syntax::object::{Array, Dict, Name as PName, Stream};
        let bytes = render(&doc(), &mut images).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let pdf = Parsed::new(bytes.clone()).expect("parses");
        let pages = pdf.pages();
        assert_eq!(pages.len(), 2);
        let mb = pages[0].media_box();
        assert!((mb.x1 - mb.x0 - 144.0).abs() < 0.01 && (mb.y1 - mb.y0 - 72.0).abs() < 0.01, "{mb:?}");
        let mb = pages[1].media_box();
        assert!((mb.x1 - mb.x0 - 72.0).abs() < 0.01 && (mb.y1 - mb.y0 - 144.0).abs() < 0.01, "{mb:?}");
        let fonts = pages[0].resources().fonts.clone();
        let font: Dict<'_> = fonts.get(b"F0").expect("font F0");
        assert_eq!(font.get::<PName>(b"Subtype").unwrap().as_ref(), b"Type0");
        assert_eq!(font.get::<PName>(b"Encoding").unwrap().as_ref(), b"Identity-H");
        let to_unicode: Stream<'_> = font.get(b"ToUnicode").expect("ToUnicode");
        let cmap = to_unicode.decoded().unwrap();
        let cmap = String::from_utf8_lossy(&cmap);
        assert!(cmap.contains("<4F60> <4F60>"), "CJK maps to itself: {cmap}");
        assert!(cmap.contains("<00F6> <00F6>"));
        assert!(cmap.contains("<E000> <D835DD38>"), "astral char via private use: {cmap}");
        let descendants: Array<'_> = font.get(b"DescendantFonts").unwrap();
        let cid: Dict<'_> = descendants.iter::<Dict<'_>>().next().unwrap();
        assert_eq!(cid.get::<PName>(b"Subtype").unwrap().as_ref(), b"CIDFontType2");
        assert_eq!(cid.get::<PName>(b"CIDToGIDMap").unwrap().as_ref(), b"Identity");
        let descriptor: Dict<'_> = cid.get(b"FontDescriptor").unwrap();
        let file: Stream<'_> = descriptor.get(b"FontFile2").unwrap();
        assert_eq!(file.decoded().unwrap(), glyphless_ttf());
        // Invisible text, the image drawn first.
        let content = pages[0].page_stream().unwrap();
        let content = String::from_utf8_lossy(content);
        assert!(content.contains("3 Tr") && content.contains("/Im0 Do"), "{content}");
        // Deterministic.
        assert_eq!(bytes, render(&doc(), &mut images).unwrap());
    }

    #[test]
    #[cfg(feature = "pdf")]
    fn jpeg_pages_are_embedded_unchanged() {
        let img = RgbImage::from_pixel(600, 300, image::Rgb([200, 10, 10]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&img).unwrap();
        let mut doc = doc();
        doc.pages.truncate(1);
        let page = PageImage::jpeg(jpeg.clone()).unwrap();
        assert_eq!(page.dimensions(), (600, 300));
        let bytes = render(&doc, &mut |_| Ok(page.clone().with_dpi(150.0))).unwrap();
        assert!(bytes.windows(jpeg.len()).any(|w| w == jpeg.as_slice()), "JPEG bytes embedded as-is");
        assert!(bytes.windows(10).any(|w| w == b"/DCTDecode"));
        let pdf = hayro::hayro_syntax::Pdf::new(bytes).unwrap();
        let mb = pdf.pages()[0].media_box();
        assert!((mb.x1 - mb.x0 - 288.0).abs() < 0.01, "150 dpi: {mb:?}");
        assert!(PageImage::jpeg(b"not a jpeg".to_vec()).is_err());
    }

    #[test]
    fn pixels_pack_to_the_smallest_lossless_layout() {
        let mut bw = RgbImage::from_pixel(10, 2, image::Rgb([255, 255, 255]));
        bw.put_pixel(0, 0, image::Rgb([0, 0, 0]));
        bw.put_pixel(9, 1, image::Rgb([0, 0, 0]));
        assert_eq!(pack_pixels(&bw), (vec![0x7F, 0xC0, 0xFF, 0x80], 1, 1));
        let grey = RgbImage::from_pixel(2, 1, image::Rgb([7, 7, 7]));
        assert_eq!(pack_pixels(&grey), (vec![7, 7], 1, 8));
        let rgb = RgbImage::from_pixel(1, 1, image::Rgb([1, 2, 3]));
        assert_eq!(pack_pixels(&rgb), (vec![1, 2, 3], 3, 8));
    }

    #[test]
    fn glyphless_font_has_valid_checksums() {
        let ttf = glyphless_ttf();
        let sum = ttf.chunks(4).fold(0u32, |s, c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            s.wrapping_add(u32::from_be_bytes(w))
        });
        assert_eq!(sum, 0xB1B0_AFBA, "whole-font checksum");
        assert_eq!(u16::from_be_bytes([ttf[4], ttf[5]]), 10);
    }
}
