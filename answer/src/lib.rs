//! Grounded chat over a document's page texts, with no model.
//!
//! - [`retrieval`]: the passages a question is about (Okapi BM25 over page
//!   chunks); the server's LLM path sends them as context.
//! - [`verify`]: the one citation rule — a snippet counts only if it occurs
//!   in the cited page's text; model quotes are matched forgivingly and
//!   returned as the page's exact text.
//! - [`answer`] (module [`extractive`]): the built-in answerer. It reads the
//!   question's kind (total, date, company, address, email, phone, a
//!   `key: value` field, a "what is"/"name of" fact), finds the line or
//!   sentence that answers it and answers with the value copied from the
//!   page, each part cited with its page; nothing found → [`NOT_IN_DOCUMENT`]
//!   with no citation. Deterministic, no network, a few milliseconds.
//! - [`check_question`]: what the API and the browser worker refuse before
//!   answering (empty, over-long, binary).
//!
//! Pure Rust with no I/O, so the server and the browser worker (wasm32) run
//! the same code and give the same answers.

pub mod extractive;
mod intent;
pub mod retrieval;
mod text;
mod values;
pub mod verify;

use serde::{Deserialize, Serialize};

pub use extractive::answer;

/// The answer when the document does not support one.
pub const NOT_IN_DOCUMENT: &str = "The document does not say: I found nothing about this in its text.";

/// Longest accepted question, in characters (the API answers 400 above it).
pub const MAX_QUESTION_CHARS: usize = 4000;

/// Who said a message of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    /// The person asking.
    User,
    /// ocrchat's answer.
    Assistant,
}

impl ChatRole {
    /// `user` or `assistant` (the API's and the database's name).
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }

    /// Parses [`ChatRole::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(ChatRole::User),
            "assistant" => Some(ChatRole::Assistant),
            _ => None,
        }
    }
}

/// One earlier message of the conversation, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTurn {
    /// Who said it.
    pub role: ChatRole,
    /// What was said (assistant turns: the answer content, without citations).
    pub content: String,
}

/// A page reference backing an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Citation {
    /// 1-based page number.
    pub page: u32,
    /// Exact substring of that page's text.
    pub snippet: String,
}

/// The assistant's reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatAnswer {
    /// The answer text.
    pub content: String,
    /// Verified citations; empty when the document does not answer.
    pub citations: Vec<Citation>,
}

impl ChatAnswer {
    /// "The document does not say", with no citation.
    pub fn not_in_document() -> Self {
        ChatAnswer { content: NOT_IN_DOCUMENT.to_string(), citations: Vec::new() }
    }

    /// Whether this is the "document does not say" reply.
    pub fn is_not_in_document(&self) -> bool {
        self.citations.is_empty() && self.content == NOT_IN_DOCUMENT
    }
}

/// Why a question is refused before any answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuestionError {
    /// Nothing but whitespace.
    #[error("the message is empty")]
    Empty,
    /// Over [`MAX_QUESTION_CHARS`].
    #[error("messages are limited to {MAX_QUESTION_CHARS} characters")]
    TooLong,
    /// NUL or other control characters: binary data, not a question.
    #[error("the message contains control characters (binary data is not a question)")]
    Binary,
}

impl QuestionError {
    /// Stable code for the API error body.
    pub fn code(self) -> &'static str {
        match self {
            QuestionError::Empty => "empty_message",
            QuestionError::TooLong => "message_too_long",
            QuestionError::Binary => "invalid_message",
        }
    }
}

/// The question trimmed, or why it is refused: the rule the API and the
/// browser worker share.
pub fn check_question(question: &str) -> Result<&str, QuestionError> {
    let q = question.trim();
    if q.is_empty() {
        return Err(QuestionError::Empty);
    }
    if q.chars().count() > MAX_QUESTION_CHARS {
        return Err(QuestionError::TooLong);
    }
    // Tabs and line breaks are text; other C0/C1 controls (NUL, ESC, the
    // replacement char of undecodable bytes) mean the body was not text.
    if q.chars().any(|c| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFD}') {
        return Err(QuestionError::Binary);
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_checked() {
        assert_eq!(check_question("  What is the total?\n"), Ok("What is the total?"));
        assert_eq!(check_question(" \n\t "), Err(QuestionError::Empty));
        assert_eq!(check_question(&"a".repeat(MAX_QUESTION_CHARS + 1)), Err(QuestionError::TooLong));
        assert!(check_question(&"é".repeat(MAX_QUESTION_CHARS)).is_ok(), "characters, not bytes");
        assert_eq!(check_question("PK\u{3}\u{4}\u{0}\u{0}"), Err(QuestionError::Binary));
        assert_eq!(check_question("caf\u{FFFD} total"), Err(QuestionError::Binary));
        assert!(check_question("line one\nline two\ttab").is_ok());
    }
}
