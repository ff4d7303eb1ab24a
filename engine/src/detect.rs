//! Text detection: resize the page for the DB network, run it, and turn the
//! probability map into rotated text-line rectangles (DB post-processing:
//! threshold → connected components → min-area rectangle → box score →
//! unclip).

use image::RgbImage;
use rten_tensor::prelude::*;
use rten_tensor::{NdTensor, NdTensorView};
use tracing::debug;
use web_time::Instant;

use crate::cpu_clock::{cpu_ms_between, process_cpu_ms};
use crate::error::Result;
use crate::geometry::{Point, Quad, min_area_rect};
use crate::model::{DetectionModel, Normalization};
use crate::pixels::PagePixels;

/// Detection settings. Defaults follow PP-OCRv6's `inference.yml`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DetParams {
    /// Pages whose shorter side is below this are upscaled to it (small
    /// scans and phone photos have small text).
    pub min_side: u32,
    /// The longer side is then capped at this (cost grows with area; text on
    /// a 300-dpi page is still ~20 px high at 2000 px).
    pub max_side: u32,
    /// Then the area is capped at this many pixels (0 = no cap). Detector
    /// time and activation memory grow with area, and a whole page has more
    /// of it than a long narrow line: capping the long side alone at the
    /// page's figure shrinks single lines until their text is too small to
    /// find (measured: tiny's line CER 0.19 → 0.94 at a 1280 long side).
    /// 1.7 MP leaves receipts and smaller scans as they were (the largest
    /// bench receipt is 1.65 MP) and takes a 300-dpi page from 3.1 to 1.7 MP
    /// (text lines still ~15 px high). Measured on every bench dataset
    /// (`bench/levers.py`): small's printed-page CER 0.046 → 0.016, the
    /// detector 40% faster; 1.2 MP loses lines on the magazine pages.
    pub max_pixels: u32,
    /// Probability above which a pixel is text.
    pub thresh: f32,
    /// Minimum mean probability inside a box to keep it.
    pub box_thresh: f32,
    /// How far to grow the shrunk DB kernel back to the text extent.
    pub unclip_ratio: f32,
    /// Upper bound on candidate regions per page.
    pub max_candidates: usize,
    /// Minimum short side (in detection-map pixels) of a kernel.
    pub min_size: f32,
    /// Larger detection inputs run as overlapping horizontal strips of about
    /// this many pixels: the network's activations dominate peak memory.
    /// Smaller strips save memory but cost accuracy: the network sees less
    /// of the page at once. Measured with the 1.7 MP cap (small, onnxruntime
    /// without detector arenas as in the server, `levers --bounded-memory`):
    /// 1 MP strips peak at 280 MiB RSS on the four pages of the server bench,
    /// 0.5 MP strips at 218 MiB with the same CER there (0.0157), but on the
    /// A4 page BoW-F1 0.964 → 0.958 and +7% CPU (`bench/levers.py`,
    /// `small-en-ort-strips-0.5`); 0.25 MP strips double that CER.
    pub tile_pixels: usize,
}

impl Default for DetParams {
    fn default() -> Self {
        Self {
            min_side: 736,
            max_side: 2000,
            max_pixels: 1_700_000,
            thresh: 0.2,
            box_thresh: 0.45,
            unclip_ratio: 1.4,
            max_candidates: 3000,
            min_size: 3.0,
            tile_pixels: 1 << 20,
        }
    }
}

/// A detected text region in page pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextRegion {
    /// Rotated rectangle around the text, corners ordered tl, tr, br, bl.
    pub quad: Quad,
    /// Mean text probability inside the region.
    pub score: f32,
}

fn round32(v: f32) -> u32 {
    ((v / 32.0).round_ties_even() as u32 * 32).max(32)
}

/// Size of the detection input for a `w`×`h` page.
pub fn input_size(w: u32, h: u32, params: &DetParams) -> (u32, u32) {
    let (short, long) = (w.min(h) as f32, w.max(h) as f32);
    let mut scale = 1.0f32;
    if short < params.min_side as f32 {
        scale = params.min_side as f32 / short;
    }
    if long * scale > params.max_side as f32 {
        scale = params.max_side as f32 / long;
    }
    let area = w as f32 * h as f32 * scale * scale;
    if params.max_pixels > 0 && area > params.max_pixels as f32 {
        scale *= (params.max_pixels as f32 / area).sqrt();
    }
    (round32(w as f32 * scale), round32(h as f32 * scale))
}

/// `page` resampled to `size` with a triangle (bilinear) filter whose support
/// widens with the reduction, like `image`'s `Triangle`, in SIMD (SSE4.1/AVX2
/// chosen at run time, simd128 in wasm). Every page resize uses it; grey
/// stays grey (each channel is resampled alone, so a grey page resizes to
/// exactly what its RGB conversion would).
pub(crate) fn resize(page: &PagePixels, (w, h): (u32, u32)) -> PagePixels {
    use fast_image_resize::images::{Image, ImageRef};
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
    let (raw, pixel) = match page {
        PagePixels::Grey(img) => (img.as_raw(), PixelType::U8),
        PagePixels::Rgb(img) => (img.as_raw(), PixelType::U8x3),
    };
    // Neither call can fail: the buffer holds exactly width × height pixels
    // of its type, and source and destination have the same type.
    let src = ImageRef::new(page.width(), page.height(), raw, pixel).expect("page buffer size");
    let mut dst = Image::new(w, h, pixel);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).expect("same pixel type");
    match page {
        PagePixels::Grey(_) => image::GrayImage::from_raw(w, h, dst.into_vec()).map(PagePixels::Grey),
        PagePixels::Rgb(_) => RgbImage::from_raw(w, h, dst.into_vec()).map(PagePixels::Rgb),
    }
    .expect("page buffer size")
}

/// Normalises rows `y0..y1` of an image into a `[1, 3, y1 - y0, W]` tensor.
fn input_rows(img: &PagePixels, y0: usize, y1: usize, norm: Normalization) -> NdTensor<f32, 4> {
    let w = img.width() as usize;
    let h = y1 - y0;
    let mut data = vec![0f32; 3 * w * h];
    let (raw, channels) = match img {
        PagePixels::Grey(img) => (img.as_raw(), 1),
        PagePixels::Rgb(img) => (img.as_raw(), 3),
    };
    let rows = &raw[y0 * w * channels..y1 * w * channels];
    for (c, &(src, scale, offset)) in norm.affine().iter().enumerate() {
        let plane = &mut data[c * w * h..(c + 1) * w * h];
        // A grey pixel is the same value in every channel.
        let src = if channels == 1 { 0 } else { src };
        for (dst, px) in plane.iter_mut().zip(rows.chunks_exact(channels)) {
            *dst = f32::from(px[src]) * scale + offset;
        }
    }
    NdTensor::from_data([1, 3, h, w], data)
}

/// Rows of overlap between strips: context so that text near a strip edge is
/// seen whole by one of the two strips (lines are ~20 px high at this scale).
const STRIP_OVERLAP: usize = 128;

/// Runs the detector over `img` (already at detection size), in horizontal
/// strips when it is large, and returns the `[H, W]` probability map.
pub fn probability_map(model: &dyn DetectionModel, img: &PagePixels, tile_pixels: usize) -> Result<NdTensor<f32, 2>> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let norm = model.normalization();
    let max_strip = ((tile_pixels / w.max(1)) / 32 * 32).max(STRIP_OVERLAP + 64);
    if h <= max_strip {
        let out = model.run(input_rows(img, 0, h, norm))?;
        return Ok(out.slice((0, 0)).to_tensor());
    }
    // Equal strips (no thin last strip with little context), multiples of 32.
    let count = (h - STRIP_OVERLAP).div_ceil(max_strip - STRIP_OVERLAP);
    let strip = ((h - STRIP_OVERLAP).div_ceil(count) + STRIP_OVERLAP).div_ceil(32) * 32;
    let mut prob = NdTensor::zeros([h, w]);
    let mut y0 = 0;
    loop {
        let y1 = (y0 + strip).min(h);
        let out = model.run(input_rows(img, y0, y1, norm))?;
        let part = out.slice((0, 0));
        // Keep each strip's rows away from its cut edges; the overlap is split in the middle.
        let keep_from = if y0 == 0 { 0 } else { STRIP_OVERLAP / 2 };
        let keep_to = if y1 == h { y1 - y0 } else { y1 - y0 - STRIP_OVERLAP / 2 };
        for y in keep_from..keep_to {
            for x in 0..w {
                prob[[y0 + y, x]] = part[[y, x]];
            }
        }
        if y1 == h {
            break;
        }
        y0 = y1 - STRIP_OVERLAP;
    }
    Ok(prob)
}

/// Runs detection on a page.
pub fn detect(model: &dyn DetectionModel, page: &PagePixels, params: &DetParams) -> Result<Vec<TextRegion>> {
    let (w, h) = page.dimensions();
    let size = input_size(w, h, params);
    let t0 = Instant::now();
    let c0 = process_cpu_ms();
    let resized;
    let img = if page.dimensions() == size {
        page
    } else {
        resized = resize(page, size);
        &resized
    };
    let (t1, c1) = (Instant::now(), process_cpu_ms());
    let prob = probability_map(model, img, params.tile_pixels)?;
    let (t2, c2) = (Instant::now(), process_cpu_ms());
    let regions = regions_from_probability(prob.view(), (w, h), params);
    let c3 = process_cpu_ms();
    // Stage profile (`OCRCHAT_LOG=ocrchat_engine=debug`).
    debug!(
        input = ?size,
        resize_ms = (t1 - t0).as_secs_f64() * 1e3,
        infer_ms = (t2 - t1).as_secs_f64() * 1e3,
        post_ms = t2.elapsed().as_secs_f64() * 1e3,
        resize_cpu_ms = cpu_ms_between(c0, c1),
        infer_cpu_ms = cpu_ms_between(c1, c2),
        post_cpu_ms = cpu_ms_between(c2, c3),
        "stage: detect"
    );
    Ok(regions)
}

/// One horizontal run of text pixels.
struct Run {
    y: u32,
    x0: u32,
    x1: u32,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        parent[i as usize] = parent[parent[i as usize] as usize];
        i = parent[i as usize];
    }
    i
}

/// Connected components (8-connectivity) of `prob > thresh`, as lists of runs.
fn components(prob: &NdTensorView<f32, 2>, thresh: f32) -> Vec<Vec<Run>> {
    let [h, w] = prob.shape();
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let mut prev_row = 0..0;
    for y in 0..h {
        let row_start = runs.len();
        let mut x = 0;
        while x < w {
            if prob[[y, x]] > thresh {
                let x0 = x;
                while x < w && prob[[y, x]] > thresh {
                    x += 1;
                }
                let id = runs.len() as u32;
                runs.push(Run { y: y as u32, x0: x0 as u32, x1: (x - 1) as u32 });
                parent.push(id);
            } else {
                x += 1;
            }
        }
        // Union with runs of the previous row that touch (diagonals included).
        let mut j = prev_row.start;
        for i in row_start..runs.len() {
            while j < prev_row.end && runs[j].x1 + 1 < runs[i].x0 {
                j += 1;
            }
            let mut k = j;
            while k < prev_row.end && runs[k].x0 <= runs[i].x1 + 1 {
                let (a, b) = (find(&mut parent, i as u32), find(&mut parent, k as u32));
                if a != b {
                    parent[a.max(b) as usize] = a.min(b);
                }
                k += 1;
            }
        }
        prev_row = row_start..runs.len();
    }
    let mut index_of_root = vec![u32::MAX; runs.len()];
    let mut comps: Vec<Vec<Run>> = Vec::new();
    for (i, run) in runs.into_iter().enumerate() {
        let root = find(&mut parent, i as u32) as usize;
        if index_of_root[root] == u32::MAX {
            index_of_root[root] = comps.len() as u32;
            comps.push(Vec::new());
        }
        comps[index_of_root[root] as usize].push(run);
    }
    comps
}

/// Mean probability inside `quad` (PP-OCR's "fast" box score).
fn box_score(prob: &NdTensorView<f32, 2>, quad: &Quad) -> f32 {
    let [h, w] = prob.shape();
    let b = quad.bounds();
    let x0 = (b[0].floor().max(0.0) as usize).min(w - 1);
    let x1 = (b[2].ceil().max(0.0) as usize).min(w - 1);
    let y0 = (b[1].floor().max(0.0) as usize).min(h - 1);
    let y1 = (b[3].ceil().max(0.0) as usize).min(h - 1);
    let (mut sum, mut n) = (0.0f64, 0usize);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if quad.contains(Point::new(x as f32, y as f32)) {
                sum += f64::from(prob[[y, x]]);
                n += 1;
            }
        }
    }
    if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
}

/// DB post-processing of a `[H, W]` probability map into regions scaled to a
/// `page` of the given size.
pub fn regions_from_probability(prob: NdTensorView<f32, 2>, page: (u32, u32), params: &DetParams) -> Vec<TextRegion> {
    let [h, w] = prob.shape();
    if h == 0 || w == 0 {
        return Vec::new();
    }
    let (sx, sy) = (page.0 as f32 / w as f32, page.1 as f32 / h as f32);
    let mut regions = Vec::new();
    for comp in components(&prob, params.thresh).into_iter().take(params.max_candidates) {
        let pts: Vec<Point> = comp
            .iter()
            .flat_map(|r| [Point::new(r.x0 as f32, r.y as f32), Point::new(r.x1 as f32, r.y as f32)])
            .collect();
        let Some(rect) = min_area_rect(&pts) else { continue };
        if rect.width.min(rect.height) < params.min_size {
            continue;
        }
        let score = box_score(&prob, &rect.corners());
        if score < params.box_thresh {
            continue;
        }
        // Unclip: offsetting a rectangle by d = A·r/L on every side is what the
        // reference's polygon clipper does for rectangles.
        let d = rect.area() * params.unclip_ratio / (2.0 * (rect.width + rect.height));
        let grown = rect.inflate(d);
        if grown.width.min(grown.height) < params.min_size + 2.0 {
            continue;
        }
        let clip = |p: Point| {
            Point::new((p.x * sx).round().clamp(0.0, page.0 as f32), (p.y * sy).round().clamp(0.0, page.1 as f32))
        };
        let quad = Quad::from_unordered(grown.corners().0.map(clip));
        if quad.0[0].dist(quad.0[1]) <= 3.0 || quad.0[0].dist(quad.0[3]) <= 3.0 {
            continue;
        }
        regions.push(TextRegion { quad, score });
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_size_follows_reference_rules() {
        let p = DetParams::default();
        // A4 at 300 dpi: 2000 on the long side would be 2.8 MP; capped at 1.7 MP.
        assert_eq!(input_size(2480, 3508, &p), (1088, 1536));
        let no_area_cap = DetParams { max_pixels: 0, ..p };
        assert_eq!(input_size(2480, 3508, &no_area_cap), (1408, 1984));
        // Small receipt: upscaled so the short side reaches 736.
        assert_eq!(input_size(463, 1000, &p), (736, 1600));
        // A single text line: the cap wins over the upscale.
        assert_eq!(input_size(2000, 50, &p), (1984, 64));
        assert_eq!(input_size(1, 1, &p), (736, 736));
    }

    fn map_with(rects: &[(usize, usize, usize, usize)], w: usize, h: usize) -> NdTensor<f32, 2> {
        let mut m = NdTensor::zeros([h, w]);
        for &(x0, y0, x1, y1) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    m[[y, x]] = 0.9;
                }
            }
        }
        m
    }

    #[test]
    fn long_lines_survive_postprocessing() {
        // Six long thin kernels like a page of text lines: all must come back
        // (rten's min_area_rect lost five of six of these).
        let rects: Vec<_> = (0..6).map(|i| (20, 20 + i * 40, 1900, 20 + i * 40 + 12)).collect();
        let prob = map_with(&rects, 2000, 300);
        let regions = regions_from_probability(prob.view(), (2000, 300), &DetParams::default());
        assert_eq!(regions.len(), 6);
        for r in &regions {
            assert!(r.quad.width() > 1880.0, "{:?}", r.quad);
            // 12 px kernel grown by d = A*1.4/L ≈ 8.3 px per side.
            assert!((r.quad.height() - 28.0).abs() < 2.5, "{:?}", r.quad);
        }
    }

    #[test]
    fn regions_scale_back_to_page_pixels() {
        let prob = map_with(&[(10, 10, 60, 20)], 100, 50);
        let regions = regions_from_probability(prob.view(), (200, 100), &DetParams::default());
        assert_eq!(regions.len(), 1);
        let b = regions[0].quad.bounds();
        assert!(b[0] < 20.0 && b[2] > 118.0 && b[1] < 20.0 && b[3] > 38.0, "{b:?}");
    }

    #[test]
    fn specks_and_faint_regions_are_dropped() {
        let mut prob = map_with(&[(10, 10, 12, 12)], 100, 50);
        // faint region: above thresh but below box_thresh
        for y in 30..40 {
            for x in 20..80 {
                prob[[y, x]] = 0.3;
            }
        }
        assert!(regions_from_probability(prob.view(), (100, 50), &DetParams::default()).is_empty());
    }

    /// A pointwise "network": probability = darkness of the pixel.
    struct Pointwise;
    impl DetectionModel for Pointwise {
        fn normalization(&self) -> Normalization {
            Normalization::PPOCR_REC
        }
        fn run(&self, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, 4>> {
            let [n, _, h, w] = input.shape();
            Ok(NdTensor::from_fn([n, 1, h, w], |[i, _, y, x]| (1.0 - input[[i, 0, y, x]]) / 2.0))
        }
    }

    #[test]
    fn strips_reassemble_the_whole_map() {
        let img: PagePixels = RgbImage::from_fn(96, 700, |x, y| image::Rgb([((x * 7 + y * 13) % 256) as u8; 3])).into();
        let whole = probability_map(&Pointwise, &img, usize::MAX).unwrap();
        for tile in [96 * 160, 96 * 256, 96 * 512] {
            let strips = probability_map(&Pointwise, &img, tile).unwrap();
            assert_eq!(strips.shape(), whole.shape());
            assert!(strips.iter().zip(whole.iter()).all(|(a, b)| a == b), "tile {tile}");
        }
    }

    #[test]
    fn a_grey_page_detects_as_its_rgb_conversion() {
        let grey = image::GrayImage::from_fn(301, 203, |x, y| image::Luma([((x * 7 + y * 13) % 256) as u8]));
        let rgb = PagePixels::Rgb(image::DynamicImage::ImageLuma8(grey.clone()).into_rgb8());
        let grey = PagePixels::Grey(grey);
        for size in [(160, 96), (320, 224), (608, 416)] {
            let (a, b) = (resize(&grey, size), resize(&rgb, size));
            assert_eq!(a.clone().into_rgb(), b.clone().into_rgb(), "{size:?}");
            let norm = Normalization::PPOCR_REC;
            assert_eq!(input_rows(&a, 8, 40, norm), input_rows(&b, 8, 40, norm), "{size:?}");
        }
    }

    #[test]
    fn diagonal_pixels_join_one_component() {
        let mut m = NdTensor::zeros([4, 4]);
        m[[0, 0]] = 1.0;
        m[[1, 1]] = 1.0;
        m[[2, 2]] = 1.0;
        m[[0, 3]] = 1.0;
        assert_eq!(components(&m.view(), 0.5).len(), 2);
    }
}
