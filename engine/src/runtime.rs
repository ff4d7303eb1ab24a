//! Which inference runtime executes the networks. rten (pure Rust) runs
//! everywhere and is the only one in wasm32; natively, onnxruntime (cargo
//! feature `onnxruntime`, its library loaded at run time) reads the same
//! models about 1.5x faster (`make bench`, one thread, the same text) and is
//! chosen when its library is installed.

use std::sync::OnceLock;

use tracing::warn;

use crate::error::Result;

/// The runtime a host asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// onnxruntime when this build has it and its library loads, rten otherwise
    /// (the reason is logged once).
    #[default]
    Auto,
    /// rten, the pure-Rust runtime (the wasm engine).
    Rten,
    /// onnxruntime; loading fails with [`crate::EngineError::RuntimeUnavailable`] when
    /// its library is missing.
    OnnxRuntime,
}

impl Runtime {
    /// Parses `auto`, `rten` or `onnxruntime` (the CLI's and config's names).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "rten" => Some(Self::Rten),
            "onnxruntime" | "ort" => Some(Self::OnnxRuntime),
            _ => None,
        }
    }

    /// The name [`Runtime::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Rten => "rten",
            Self::OnnxRuntime => "onnxruntime",
        }
    }

    /// The runtime that will actually run: never `Auto`.
    pub fn resolve(self) -> Result<Self> {
        match self {
            Self::Rten => Ok(Self::Rten),
            Self::OnnxRuntime => onnxruntime_available().map(|()| Self::OnnxRuntime),
            // A build without the backend (wasm32) has nothing to fall back from.
            Self::Auto if !cfg!(all(feature = "onnxruntime", not(target_arch = "wasm32"))) => Ok(Self::Rten),
            Self::Auto => match onnxruntime_available() {
                Ok(()) => Ok(Self::OnnxRuntime),
                Err(e) => {
                    // Once per process: every engine load asks again.
                    static LOGGED: OnceLock<()> = OnceLock::new();
                    LOGGED.get_or_init(|| warn!("onnxruntime not used ({}); running the models with rten", e.detail()));
                    Ok(Self::Rten)
                }
            },
        }
    }
}

#[cfg(all(feature = "onnxruntime", not(target_arch = "wasm32")))]
fn onnxruntime_available() -> Result<()> {
    crate::onnxruntime::environment().map(|_| ())
}

#[cfg(not(all(feature = "onnxruntime", not(target_arch = "wasm32"))))]
fn onnxruntime_available() -> Result<()> {
    Err(crate::error::EngineError::NotBuiltIn { what: "the onnxruntime backend", feature: "onnxruntime" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in [Runtime::Auto, Runtime::Rten, Runtime::OnnxRuntime] {
            assert_eq!(Runtime::parse(r.name()), Some(r));
        }
        assert_eq!(Runtime::parse("tensorflow"), None);
    }

    #[test]
    fn auto_always_resolves_and_rten_is_rten() {
        assert_eq!(Runtime::Rten.resolve().unwrap(), Runtime::Rten);
        assert_ne!(Runtime::Auto.resolve().unwrap(), Runtime::Auto);
    }
}
