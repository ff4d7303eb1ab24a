//! Which file type some bytes are: the one rule the engine's decoder, the
//! app's choice of worker build and (through a worker) the embeddable widget
//! all use. The file name is never trusted.
//!
//! Images are recognised by their magic bytes, with the same table as the
//! `image` crate's `guess_format` (the engine's decoders), so a file is
//! called what its decoder will take it for; formats we do not read are
//! named in the refusal.

use serde::{Deserialize, Serialize};

/// File types we accept, sniffed from magic bytes. Serialises as
/// [`InputFormat::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
    /// GIF (first frame).
    Gif,
    /// BMP.
    Bmp,
    /// TIFF (every page).
    Tiff,
    /// PDF.
    Pdf,
}

impl InputFormat {
    /// Lower-case name used in messages and APIs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Pdf => "pdf",
        }
    }
}

/// Why bytes are not a file we read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SniffError {
    /// No bytes at all.
    Empty,
    /// A known image format we do not read (its lower-case name), or
    /// nothing recognisable (`None`).
    Unsupported(Option<&'static str>),
}

impl std::fmt::Display for SniffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("the file is empty"),
            Self::Unsupported(Some(name)) => write!(f, "unsupported file type: {name}"),
            Self::Unsupported(None) => {
                f.write_str("unsupported file type: not a PNG, JPEG, WEBP, GIF, BMP, TIFF or PDF file")
            }
        }
    }
}

impl std::error::Error for SniffError {}

/// What a signature stands for.
#[derive(Clone, Copy)]
enum Kind {
    Read(InputFormat),
    Other(&'static str),
}

/// Magic bytes, masks (empty: exact prefix) and formats, in `image`'s order
/// (`image::guess_format`, v0.25): the first match wins.
const MAGIC: &[(&[u8], &[u8], Kind)] = &[
    (b"\x89PNG\r\n\x1a\n", b"", Kind::Read(InputFormat::Png)),
    (&[0xff, 0xd8, 0xff], b"", Kind::Read(InputFormat::Jpeg)),
    (b"GIF89a", b"", Kind::Read(InputFormat::Gif)),
    (b"GIF87a", b"", Kind::Read(InputFormat::Gif)),
    (b"RIFF\0\0\0\0WEBP", b"\xFF\xFF\xFF\xFF\0\0\0\0", Kind::Read(InputFormat::Webp)),
    (b"MM\x00*", b"", Kind::Read(InputFormat::Tiff)),
    (b"II*\x00", b"", Kind::Read(InputFormat::Tiff)),
    (b"DDS ", b"", Kind::Other("dds")),
    (b"BM", b"", Kind::Read(InputFormat::Bmp)),
    (&[0, 0, 1, 0], b"", Kind::Other("ico")),
    (b"#?RADIANCE", b"", Kind::Other("hdr")),
    (b"\0\0\0\0ftypavif", b"\xFF\xFF\0\0", Kind::Other("avif")),
    (&[0x76, 0x2f, 0x31, 0x01], b"", Kind::Other("openexr")),
    (b"qoif", b"", Kind::Other("qoi")),
    (b"P1", b"", Kind::Other("pnm")),
    (b"P2", b"", Kind::Other("pnm")),
    (b"P3", b"", Kind::Other("pnm")),
    (b"P4", b"", Kind::Other("pnm")),
    (b"P5", b"", Kind::Other("pnm")),
    (b"P6", b"", Kind::Other("pnm")),
    (b"P7", b"", Kind::Other("pnm")),
    (b"farbfeld", b"", Kind::Other("farbfeld")),
];

/// How many leading bytes [`sniff`] looks at: a caller that only has the
/// head of a file (the app choosing a worker) needs no more.
pub const SNIFF_BYTES: usize = 1024;

/// Identifies the file type from its first bytes.
pub fn sniff(bytes: &[u8]) -> Result<InputFormat, SniffError> {
    if bytes.is_empty() {
        return Err(SniffError::Empty);
    }
    // PDF headers may be preceded by junk; readers accept %PDF- in the first KiB.
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Ok(InputFormat::Pdf);
    }
    let matches = |signature: &[u8], mask: &[u8]| {
        if mask.is_empty() {
            return bytes.starts_with(signature);
        }
        bytes.len() >= signature.len()
            && bytes
                .iter()
                .zip(signature)
                .zip(mask.iter().chain(std::iter::repeat(&0xFF)))
                .all(|((&byte, &sig), &mask)| byte & mask == sig)
    };
    match MAGIC.iter().find(|(signature, mask, _)| matches(signature, mask)) {
        Some((_, _, Kind::Read(format))) => Ok(*format),
        Some((_, _, Kind::Other(name))) => Err(SniffError::Unsupported(Some(name))),
        None => Err(SniffError::Unsupported(None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_decide_and_pdf_may_follow_junk() {
        assert_eq!(sniff(b""), Err(SniffError::Empty));
        assert_eq!(sniff(b"%PDF-1.7\n"), Ok(InputFormat::Pdf));
        let mut junk = vec![b'x'; 1000];
        junk.extend_from_slice(b"%PDF-1.4");
        assert_eq!(sniff(&junk), Ok(InputFormat::Pdf), "within the first KiB");
        let mut late = vec![b'x'; 1024];
        late.extend_from_slice(b"%PDF-1.4");
        assert!(sniff(&late).is_err(), "not after it");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Ok(InputFormat::Png));
        assert_eq!(sniff(b"RIFF1234WEBPVP8 "), Ok(InputFormat::Webp));
        assert_eq!(sniff(b"RIFF1234WAVE"), Err(SniffError::Unsupported(None)));
        assert_eq!(sniff(b"II*\0rest"), Ok(InputFormat::Tiff));
        assert_eq!(sniff(b"BM"), Ok(InputFormat::Bmp));
        assert_eq!(sniff(&[0, 0, 1, 0, 5]), Err(SniffError::Unsupported(Some("ico"))));
        assert_eq!(
            sniff(b"hello").unwrap_err().to_string(),
            "unsupported file type: not a PNG, JPEG, WEBP, GIF, BMP, TIFF or PDF file"
        );
        assert_eq!(serde_json::to_string(&InputFormat::Jpeg).unwrap(), "\"jpeg\"");
    }
}
