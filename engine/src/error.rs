//! The engine's error type. Every failure a caller can cause (bad bytes,
//! oversized images, unsupported languages, missing models) is a distinct
//! variant so the server can map it to a precise 4xx.

use thiserror::Error;

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
    #[error("could not decode the {format} file: {reason}")]
    Decode {
        /// Format that was sniffed from the bytes.
        format: &'static str,
        /// Decoder's explanation.
        reason: String,
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
    },
    /// A model file exists but is not usable.
    #[error("model {name} is invalid: {reason}")]
    InvalidModel {
        /// Model name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested language is not served by any installed model.
    #[error("language {code:?} is not supported by the installed models; supported: {supported}")]
    UnsupportedLanguage {
        /// The code the caller asked for.
        code: String,
        /// Comma-separated list of codes that are supported.
        supported: String,
    },
    /// The inference runtime failed.
    #[error("inference failed: {0}")]
    Inference(String),
    /// An exporter could not produce its format.
    #[error("export to {format} failed: {reason}")]
    Export {
        /// Output format.
        format: &'static str,
        /// Why.
        reason: String,
    },
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
        )
    }
}

/// Shorthand for results carrying [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
