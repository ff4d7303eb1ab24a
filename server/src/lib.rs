//! The `ocrchat` server library: the REST API's building blocks, shared by the
//! `ocrchat` binary and the cross-crate tests.
//!
//! - [`llm`]: the LLM/VLM side — an OpenAI-compatible chat-completions client,
//!   VLM page transcription, the tool catalogue and grounded chat.

pub mod llm;
