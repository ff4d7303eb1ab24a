//! A page's pixels as decoded: grey scans stay grey.
//!
//! Most scanned documents are grey (a PDF's scans are grey JPEGs, fax TIFFs
//! are bilevel), and a 300-dpi page held as RGB takes three times the memory
//! of the same page in grey — 25 MB instead of 8.4 MB for a letter page, for
//! as long as its lines are being read, once per page in flight. The
//! detector and the line recognisers read either layout as RGB (a grey
//! pixel is its value three times, exactly what converting to RGB gives),
//! so what they compute does not depend on how the page was kept.

use std::borrow::Cow;

use image::buffer::ConvertBuffer;
use image::{GrayImage, RgbImage};

/// The pixels of one page: grey or RGB.
#[derive(Clone, Debug, PartialEq)]
pub enum PagePixels {
    /// One channel (grey scans, bilevel TIFFs).
    Grey(GrayImage),
    /// Three channels.
    Rgb(RgbImage),
}

impl From<RgbImage> for PagePixels {
    fn from(img: RgbImage) -> Self {
        Self::Rgb(img)
    }
}

impl From<GrayImage> for PagePixels {
    fn from(img: GrayImage) -> Self {
        Self::Grey(img)
    }
}

impl PagePixels {
    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Grey(img) => img.dimensions(),
            Self::Rgb(img) => img.dimensions(),
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.dimensions().0
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.dimensions().1
    }

    /// The pixels as RGB: borrowed when they are RGB, converted (a copy)
    /// when grey. For readers that take RGB only (Tesseract's).
    pub fn to_rgb(&self) -> Cow<'_, RgbImage> {
        match self {
            Self::Grey(img) => Cow::Owned(img.convert()),
            Self::Rgb(img) => Cow::Borrowed(img),
        }
    }

    /// The pixels as RGB, converting grey ones.
    pub fn into_rgb(self) -> RgbImage {
        match self {
            Self::Grey(img) => image::DynamicImage::ImageLuma8(img).into_rgb8(),
            Self::Rgb(img) => img,
        }
    }

    /// The page turned a quarter turn clockwise.
    pub fn rotate90(&self) -> Self {
        match self {
            Self::Grey(img) => Self::Grey(image::imageops::rotate90(img)),
            Self::Rgb(img) => Self::Rgb(image::imageops::rotate90(img)),
        }
    }

    /// The page turned a half turn.
    pub fn rotate180(&self) -> Self {
        match self {
            Self::Grey(img) => Self::Grey(image::imageops::rotate180(img)),
            Self::Rgb(img) => Self::Rgb(image::imageops::rotate180(img)),
        }
    }

    /// The page turned three quarter turns clockwise.
    pub fn rotate270(&self) -> Self {
        match self {
            Self::Grey(img) => Self::Grey(image::imageops::rotate270(img)),
            Self::Rgb(img) => Self::Rgb(image::imageops::rotate270(img)),
        }
    }

    /// The rectangle at `(x, y)` of `width × height` (inside the page) as RGB.
    pub fn crop_rgb(&self, x: u32, y: u32, width: u32, height: u32) -> RgbImage {
        match self {
            Self::Grey(img) => {
                let cut = image::imageops::crop_imm(img, x, y, width, height).to_image();
                image::DynamicImage::ImageLuma8(cut).into_rgb8()
            }
            Self::Rgb(img) => image::imageops::crop_imm(img, x, y, width, height).to_image(),
        }
    }
}

/// Pixel access as RGB for the stages that sample a page (detector input,
/// recogniser crops), monomorphised per layout so the per-pixel loops stay
/// free of a branch on it.
pub(crate) trait RgbPixels {
    /// Width and height.
    fn size(&self) -> (u32, u32);
    /// The pixel at `(x, y)` (inside the image) as RGB.
    fn rgb(&self, x: u32, y: u32) -> [u8; 3];
}

impl RgbPixels for RgbImage {
    fn size(&self) -> (u32, u32) {
        self.dimensions()
    }

    #[inline]
    fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        self.get_pixel(x, y).0
    }
}

impl RgbPixels for GrayImage {
    fn size(&self) -> (u32, u32) {
        self.dimensions()
    }

    #[inline]
    fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        [self.get_pixel(x, y).0[0]; 3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_reads_as_its_rgb_conversion() {
        let grey = GrayImage::from_fn(5, 3, |x, y| image::Luma([(x * 40 + y * 7) as u8]));
        let pixels = PagePixels::from(grey.clone());
        let rgb = pixels.to_rgb().into_owned();
        assert_eq!(rgb, pixels.clone().into_rgb());
        for (x, y, px) in rgb.enumerate_pixels() {
            assert_eq!(RgbPixels::rgb(&grey, x, y), px.0);
        }
        assert_eq!(pixels.rotate90().dimensions(), (3, 5));
        assert_eq!(pixels.rotate90().into_rgb(), image::imageops::rotate90(&rgb));
        assert_eq!(pixels.rotate180().into_rgb(), image::imageops::rotate180(&rgb));
        assert_eq!(pixels.rotate270().into_rgb(), image::imageops::rotate270(&rgb));
        assert_eq!(pixels.crop_rgb(1, 1, 3, 2), image::imageops::crop_imm(&rgb, 1, 1, 3, 2).to_image());
    }
}
