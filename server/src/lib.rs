//! ocrchat server library: the OCR.chat-compatible REST API (axum + SQLite
//! job queue), account tokens, metering, and the LLM/VLM side (`llm`: vlm
//! tier, translation, grounded chat). The `ocrchat` binary wraps it with a
//! CLI (`serve`, `token`, `ocr`).

pub mod alloc;
pub mod api;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod error;
pub mod jobs;
pub mod llm;
pub mod metering;
pub mod metrics;
pub mod openapi;
pub mod paths;
pub mod pool;
pub mod queue;
pub mod serve;
pub mod state;
pub mod store;
#[cfg(test)]
mod testing;
pub mod tokens;
