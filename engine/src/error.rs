//! The engine's error type. Every failure a caller can cause (bad bytes,
//! oversized images, unsupported languages, missing models) is a distinct
//! variant so the server can map it to a precise 4xx.
//!
//! Messages are short and meant for users ("could not decode the png
//! file"); what a decoder, the runtime or an exporter said is kept as the
//! error's [`source`](std::error::Error::source), for logs
//! ([`EngineError::detail`] prints the whole chain).

use thiserror::Error;

use crate::ExportFormat;
use ocrchat_core::SniffError;

/// A lower-level error kept as a source (decoders, the runtime, exporters,
/// or a sentence of ours when there is no error value to keep).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong while reading, recognising or exporting a document.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The input had no bytes at all.
    #[error("the file is empty")]
    Empty,
    /// The bytes are not any format we read.
    #[error("unsupported file type: {0}")]
    UnsupportedFormat(String),
    /// The format was recognised but the data is corrupt or truncated.
    #[error("could not decode the {format} file")]
    Decode {
        /// Format that was sniffed from the bytes.
        format: &'static str,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },
    /// A page declares more pixels than the configured bound (checked before
    /// any pixel buffer is allocated).
    #[error("page of {width}x{height} pixels exceeds the limit of {limit} pixels per page")]
    TooLarge {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// Configured maximum number of pixels.
        limit: u64,
    },
    /// The document has more pages than allowed.
    #[error("the document has more than {limit} pages")]
    TooManyPages {
        /// Configured maximum.
        limit: usize,
    },
    /// The PDF needs a password we do not have.
    #[error("the PDF is password protected")]
    PasswordProtected,
    /// Model files are missing from the model directory.
    #[error("OCR models not found ({detail}); fetch them with `make models` (or scripts/fetch-models.sh)")]
    ModelsMissing {
        /// Which file or directory was looked for.
        detail: String,
        /// Why it could not be read, when a read was tried.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A model file exists but is not usable.
    #[error("model {name} is invalid")]
    InvalidModel {
        /// Model name.
        name: String,
        /// What is wrong with it.
        #[source]
        source: BoxError,
    },
    /// The requested language is not served by any installed model.
    #[error("language {code:?} is not supported by the installed models; supported: {supported}")]
    UnsupportedLanguage {
        /// The code the caller asked for.
        code: String,
        /// Comma-separated list of codes that are supported.
        supported: String,
    },
    /// The language is known, but the Tesseract packs that read it are not
    /// installed on this machine.
    #[error(
        "language {code:?} needs the Tesseract pack(s) {packs}, which are not installed here; install them with \
         `make models LANGS={packs}` (scripts/fetch-tessdata.sh {packs})"
    )]
    LanguageNotInstalled {
        /// The code the caller asked for.
        code: String,
        /// The missing packs, `+`-joined as `make models LANGS=` takes them.
        packs: String,
    },
    /// A host that loads Tesseract packs on demand (the browser worker) has
    /// not fetched `pack` yet: it fetches it and reads the file again.
    #[error("the Tesseract pack {pack} is not loaded yet")]
    PackNotLoaded {
        /// The pack's Tesseract name (`rus`).
        pack: String,
    },
    /// The inference runtime failed.
    #[error("inference failed in {model}")]
    Inference {
        /// Which network (`<model>/det`, `<model>/rec`).
        model: String,
        /// The runtime's error.
        #[source]
        source: BoxError,
    },
    /// The inference runtime asked for cannot be loaded on this machine.
    #[error(
        "the {runtime} runtime is unavailable; install it with `make onnxruntime` \
         (scripts/fetch-onnxruntime.sh) or run with the rten runtime"
    )]
    RuntimeUnavailable {
        /// Which runtime.
        runtime: &'static str,
        /// Why it could not be loaded.
        #[source]
        source: BoxError,
    },
    /// An exporter could not produce its format.
    #[error("export to {} failed", .format.extension())]
    Export {
        /// Output format.
        format: ExportFormat,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A searchable PDF is drawn from the pages of the file the document was
    /// read from, and the caller did not pass it.
    #[error("a searchable PDF needs the file the document was read from")]
    NoOriginal,
    /// The input or output needs a part of the engine this build leaves out
    /// (the browser's first-load worker has no PDF reader; the page routes
    /// PDFs to a full build).
    #[error("{what} is not built into this engine (cargo feature `{feature}`)")]
    NotBuiltIn {
        /// What was asked for, e.g. "PDF input".
        what: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
}

impl EngineError {
    /// Whether the error is the caller's fault (bad input) rather than ours.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::UnsupportedFormat(_)
                | Self::Decode { .. }
                | Self::TooLarge { .. }
                | Self::TooManyPages { .. }
                | Self::PasswordProtected
                | Self::UnsupportedLanguage { .. }
                | Self::LanguageNotInstalled { .. }
        )
    }

    /// The message followed by every source's, `: `-separated: for logs.
    pub fn detail(&self) -> String {
        let mut out = self.to_string();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push_str(": ");
            out.push_str(&e.to_string());
            next = e.source();
        }
        out
    }

    /// A decode error of `format` whose source is `source` (an error value,
    /// or a sentence of ours).
    pub(crate) fn decode(format: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Decode { format, source: source.into() }
    }

    /// An export error of `format`.
    pub(crate) fn export(format: ExportFormat, source: impl Into<BoxError>) -> Self {
        Self::Export { format, source: source.into() }
    }
}

impl From<SniffError> for EngineError {
    fn from(e: SniffError) -> Self {
        match e {
            SniffError::Empty => Self::Empty,
            SniffError::Unsupported(Some(name)) => Self::UnsupportedFormat(name.into()),
            SniffError::Unsupported(None) => {
                Self::UnsupportedFormat("not a PNG, JPEG, WEBP, GIF, BMP, TIFF or PDF file".into())
            }
        }
    }
}

/// Shorthand for results carrying [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
