//! Plain text: each page's text in reading order, a form feed between pages.

use crate::document::Document;

/// Renders the document as plain text.
pub fn render(doc: &Document) -> String {
    let mut out = doc.text();
    if !out.is_empty() {
        out.push('\n');
    }
    out
}
