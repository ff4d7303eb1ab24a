//! `tier=vlm`: one page image in, Markdown and plain text out. The prompt is
//! fixed text chosen by tool and language (temperature 0), so the same page
//! and options give the same request every time.
//!
//! Also the text-only translation used by `tool=translate` on the `cpu` tier.

use base64::Engine as _;

use super::markdown::markdown_to_text;
use super::openai::{ChatRequest, Content, ImageUrl, Message, Part};
use super::tools::{Tool, language_name};
use super::{LlmClient, LlmError};

/// Largest encoded page image sent. OpenAI refuses images over 20 MB; the
/// server renders pages well below this (a 300-dpi A4 PNG is ~1–6 MB).
pub const MAX_IMAGE_BYTES: usize = 20 << 20;

/// How one page should be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Canonical language code of the page, or `auto`.
    pub language: String,
    /// Tool preset, if any.
    pub tool: Option<Tool>,
    /// Canonical target language; required with [`Tool::Translate`].
    pub translate_to: Option<String>,
}

/// What the model read on one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageTranscript {
    /// GitHub-flavoured Markdown as the model wrote it (outer code fence removed).
    pub markdown: String,
    /// Plain text derived from `markdown` (engine conventions: blocks
    /// separated by a blank line, table cells by tabs).
    pub text: String,
    /// The model stopped at `max_output_tokens`: the page may be incomplete.
    pub truncated: bool,
}

const TRANSCRIBE_SYSTEM: &str = "You are a meticulous OCR engine. You receive the image of one document page and \
write down its text exactly as printed or written: same words, spelling, numbers, punctuation and reading order \
(columns left to right, top to bottom). Never summarise, explain, correct or complete the text, and never add \
anything that is not on the page. Output GitHub-flavoured Markdown only: '#' headings for titles and headings, \
'-' or '1.' for list items, pipe tables for tables, a blank line between paragraphs. Do not wrap the output in a \
code block and write no comments before or after it. Write an unreadable word as [illegible]. If the page has \
no text, output nothing.";

const TRANSLATE_SYSTEM: &str = "You are a professional translator. You translate the Markdown document you are \
given faithfully and completely, sentence by sentence, keeping its Markdown structure (headings, lists, tables, \
line breaks) and leaving numbers, amounts, dates, codes, names and URLs unchanged. Output only the translated \
Markdown, with no comments and no code block around it.";

/// A language for prompts: `German (de)`.
fn language_label(code: &str) -> String {
    match language_name(code) {
        Some(name) => format!("{name} ({code})"),
        None => code.to_string(),
    }
}

/// The user instruction sent with the page image.
fn transcription_prompt(req: &PageRequest) -> String {
    let task = match req.tool {
        // Plain OCR presets: the default prompt.
        None | Some(Tool::ImageToText | Tool::PdfToText) => "Transcribe all the text on this page.".to_string(),
        Some(Tool::ExtractTables) => "Transcribe this page, paying particular attention to its tables: write every \
table as a GitHub pipe table with one header row, one row per table row and the cell text exactly as shown (an \
empty cell stays empty, a merged cell repeats its text in each column it spans). Keep a table's title or caption \
on the line above it, and the rest of the page's text around the tables."
            .to_string(),
        Some(Tool::HandwritingToText) => "This page is handwritten (possibly mixed with print). Transcribe the \
handwriting line by line, keeping the writer's line breaks and spelling; leave out words that are crossed out."
            .to_string(),
        Some(Tool::MathToLatex) => "Transcribe this page and write every mathematical expression in LaTeX: inline \
formulas as $…$, displayed equations as $$…$$ on their own line; the surrounding text stays plain Markdown."
            .to_string(),
        Some(Tool::Translate) => {
            let to = req.translate_to.as_deref().unwrap_or("en");
            format!(
                "Read all the text on this page and write it translated into {}, keeping the Markdown structure \
(headings, lists, tables). Leave numbers, amounts, dates, codes and names unchanged. Output only the translation.",
                language_label(to)
            )
        }
    };
    let language = match req.language.as_str() {
        "" | "auto" => "Recognise the language of the page yourself.".to_string(),
        code => format!("The page is written in {}.", language_label(code)),
    };
    format!("{task}\n{language}")
}

/// `image/png` or `image/jpeg` from the magic bytes; nothing else is sent.
fn image_mime(bytes: &[u8]) -> Result<&'static str, LlmError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(LlmError::BadImage("not a PNG or JPEG image".into()))
    }
}

/// Removes an outer ```` ```markdown … ``` ```` fence that models add
/// despite being told not to; inner code blocks are left alone.
fn strip_outer_fence(s: &str) -> &str {
    let t = s.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let Some(body_start) = rest.find('\n') else {
        return t;
    };
    let info = rest[..body_start].trim();
    if !(info.is_empty() || info.eq_ignore_ascii_case("markdown") || info.eq_ignore_ascii_case("md")) {
        return t;
    }
    let body = &rest[body_start + 1..];
    match body.trim_end().strip_suffix("```") {
        // Only when that closing fence is the sole one: otherwise the
        // "fence" opened a real code block inside the page.
        Some(inner) if !inner.contains("\n```") => inner.trim(),
        _ => t,
    }
}

fn transcript(raw: &str, truncated: bool) -> PageTranscript {
    let markdown = strip_outer_fence(raw).to_string();
    let text = markdown_to_text(&markdown);
    PageTranscript { markdown, text, truncated }
}

impl LlmClient {
    /// Reads one page image (PNG or JPEG) with the configured VLM.
    pub async fn transcribe_page(&self, image: &[u8], req: &PageRequest) -> Result<PageTranscript, LlmError> {
        let mime = image_mime(image)?;
        if image.len() > MAX_IMAGE_BYTES {
            return Err(LlmError::BadImage(format!(
                "{} bytes exceeds the {MAX_IMAGE_BYTES}-byte limit for model requests",
                image.len()
            )));
        }
        let url = format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(image));
        let request = ChatRequest {
            model: &self.config().model,
            messages: vec![
                Message::system(TRANSCRIBE_SYSTEM),
                Message {
                    role: "user",
                    content: Content::Parts(vec![
                        Part::Text { text: transcription_prompt(req) },
                        Part::ImageUrl { image_url: ImageUrl { url, detail: "high" } },
                    ]),
                },
            ],
            temperature: 0.0,
            max_tokens: self.config().max_output_tokens,
            response_format: None,
            stream: false,
        };
        let done = self.complete(&request).await?;
        if done.truncated {
            tracing::warn!("page transcription stopped at max_output_tokens; the page may be incomplete");
        }
        Ok(transcript(&done.content, done.truncated))
    }

    /// Translates Markdown (the engine's output of a page) into `to`
    /// (canonical code): `tool=translate` on the `cpu` tier.
    pub async fn translate_markdown(&self, markdown: &str, to: &str) -> Result<PageTranscript, LlmError> {
        if markdown.trim().is_empty() {
            return Ok(transcript("", false));
        }
        let request = ChatRequest {
            model: &self.config().model,
            messages: vec![
                Message::system(TRANSLATE_SYSTEM),
                Message::user(format!(
                    "Translate this document into {}.\n\n<document>\n{markdown}\n</document>",
                    language_label(to)
                )),
            ],
            temperature: 0.0,
            max_tokens: self.config().max_output_tokens,
            response_format: None,
            stream: false,
        };
        let done = self.complete(&request).await?;
        Ok(transcript(&done.content, done.truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(language: &str, tool: Option<Tool>, to: Option<&str>) -> PageRequest {
        PageRequest { language: language.into(), tool, translate_to: to.map(String::from) }
    }

    #[test]
    fn prompts_follow_tool_and_language() {
        let cases: &[(PageRequest, &[&str])] = &[
            (req("auto", None, None), &["Transcribe all the text", "language of the page yourself"]),
            (req("de", None, None), &["written in German (de)."]),
            (req("en", Some(Tool::ExtractTables), None), &["pipe table", "English (en)"]),
            (req("auto", Some(Tool::HandwritingToText), None), &["handwritten"]),
            (req("auto", Some(Tool::MathToLatex), None), &["LaTeX"]),
            (req("it", Some(Tool::Translate), Some("fr")), &["translated into French (fr)", "Italian (it)"]),
        ];
        for (r, needles) in cases {
            let p = transcription_prompt(r);
            for n in *needles {
                assert!(p.contains(n), "{r:?}: {p:?} lacks {n:?}");
            }
            assert_eq!(p, transcription_prompt(r), "deterministic");
        }
    }

    #[test]
    fn only_png_and_jpeg_are_sent() {
        assert_eq!(image_mime(b"\x89PNG\r\n\x1a\n....").unwrap(), "image/png");
        assert_eq!(image_mime(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), "image/jpeg");
        for bad in [&b"GIF89a"[..], b"%PDF-1.7", b"", b"\x89PN"] {
            assert!(matches!(image_mime(bad), Err(LlmError::BadImage(_))));
        }
    }

    #[test]
    fn outer_fences_are_removed() {
        let cases: &[(&str, &str)] = &[
            ("# T\n\nbody", "# T\n\nbody"),
            ("```markdown\n# T\n\nbody\n```", "# T\n\nbody"),
            ("```\n# T\n```\n", "# T"),
            ("  ```md\n| a |\n|---|\n| 1 |\n```  ", "| a |\n|---|\n| 1 |"),
            ("```python\nprint(1)\n```", "```python\nprint(1)\n```"),
            ("```\na\n```\ntext\n```\nb\n```", "```\na\n```\ntext\n```\nb\n```"),
        ];
        for &(raw, want) in cases {
            assert_eq!(strip_outer_fence(raw), want, "{raw:?}");
        }
        let t = transcript("```markdown\n| Item | Qty |\n|---|---|\n| Tea | 2 |\n```", false);
        assert_eq!(t.text, "Item\tQty\nTea\t2");
    }
}
