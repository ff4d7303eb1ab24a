//! The engine for JavaScript hosts.
//!
//! - [`protocol`]: the messages between a page and the OCR Web Worker (always
//!   built; the app uses only this, with `default-features = false`).
//! - [`split`]: how many workers read one file, and which page each reads
//!   next (always built; the app applies it).
//! - [`session`]: what the worker does with them — jobs, per-page OCR,
//!   previews, exports — in plain Rust, so it is testable anywhere.
//! - `runtime` (wasm32): the dedicated-worker message loop, model fetching
//!   through the Cache API. `src/bin/worker.rs` starts it.
//! - `tesseract` (wasm32): tesseract-wasm behind the engine's Tesseract
//!   backend trait, one instance per pack, fetched on first need.
//! - [`Engine`]: a one-call class for Node (`worker/node/ocr.mjs`).
//!
//! Kept thin on purpose: everything that is not marshalling lives in
//! `ocrchat-engine`, so native and wasm run the same code.

pub mod protocol;
pub mod split;

#[cfg(feature = "engine")]
mod node;
#[cfg(feature = "engine")]
pub use node::Engine;

#[cfg(feature = "engine")]
pub mod session;

#[cfg(all(feature = "engine", target_arch = "wasm32"))]
pub mod runtime;
#[cfg(all(feature = "engine", target_arch = "wasm32"))]
mod tesseract;
