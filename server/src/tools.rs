//! Tool presets (`tool=` on submit, listed by `GET /api/v1/tools/`): what
//! each does and which tier can run it. A tool the chosen tier cannot run is
//! refused up front rather than silently ignored.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// A preset.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Tool {
    /// Slug passed as `tool=`.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Tiers that run it.
    pub tiers: &'static [&'static str],
    /// Whether `translate_to` is required.
    pub requires_translate_to: bool,
}

/// Every preset.
pub const TOOLS: &[Tool] = &[
    Tool {
        slug: "extract-tables",
        name: "Extract tables",
        description: "Find tables (ruled or column-aligned) and return them as Markdown pipe tables and CSV.",
        tiers: &["cpu", "vlm"],
        requires_translate_to: false,
    },
    Tool {
        slug: "image-to-text",
        name: "Image to text",
        description: "Plain text of printed documents, in reading order.",
        tiers: &["cpu", "vlm"],
        requires_translate_to: false,
    },
    Tool {
        slug: "pdf-to-text",
        name: "PDF to text",
        description: "Text of every page: the text layer of born-digital pages, OCR for scanned ones.",
        tiers: &["cpu", "vlm"],
        requires_translate_to: false,
    },
    Tool {
        slug: "handwriting-to-text",
        name: "Handwriting to text",
        description: "Transcribe handwriting (needs the vlm tier).",
        tiers: &["vlm"],
        requires_translate_to: false,
    },
    Tool {
        slug: "math-to-latex",
        name: "Math to LaTeX",
        description: "Transcribe formulas as LaTeX inside Markdown (needs the vlm tier).",
        tiers: &["vlm"],
        requires_translate_to: false,
    },
    Tool {
        slug: "translate",
        name: "Translate",
        description: "Recognise the text and return it translated into `translate_to` (needs the vlm tier).",
        tiers: &["vlm"],
        requires_translate_to: true,
    },
];

/// Looks up a slug.
pub fn find(slug: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.slug == slug)
}

/// Checks `tool`/`translate_to` against the tier; returns the tool.
pub fn validate(tool: Option<&str>, tier: &str, translate_to: Option<&str>) -> Result<Option<&'static Tool>, ApiError> {
    let Some(slug) = tool else {
        if translate_to.is_some() {
            return Err(ApiError::bad_request("invalid_field", "translate_to is only used with tool=translate"));
        }
        return Ok(None);
    };
    let Some(tool) = find(slug) else {
        let known: Vec<&str> = TOOLS.iter().map(|t| t.slug).collect();
        return Err(ApiError::bad_request("unknown_tool", format!("unknown tool {slug:?}; known: {}", known.join(", "))));
    };
    if !tool.tiers.contains(&tier) {
        return Err(ApiError::bad_request(
            "tool_needs_other_tier",
            format!("tool {slug:?} runs on tier {}, not {tier:?}", tool.tiers.join(" or ")),
        ));
    }
    if tool.requires_translate_to && translate_to.is_none() {
        return Err(ApiError::bad_request("missing_translate_to", format!("tool {slug:?} needs translate_to (a language code)")));
    }
    if !tool.requires_translate_to && translate_to.is_some() {
        return Err(ApiError::bad_request("invalid_field", "translate_to is only used with tool=translate"));
    }
    Ok(Some(tool))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_table() {
        let cases: &[(Option<&str>, &str, Option<&str>, Result<Option<&str>, &str>)] = &[
            (None, "cpu", None, Ok(None)),
            (Some("extract-tables"), "cpu", None, Ok(Some("extract-tables"))),
            (Some("handwriting-to-text"), "cpu", None, Err("tool_needs_other_tier")),
            (Some("handwriting-to-text"), "vlm", None, Ok(Some("handwriting-to-text"))),
            (Some("translate"), "vlm", None, Err("missing_translate_to")),
            (Some("translate"), "vlm", Some("de"), Ok(Some("translate"))),
            (Some("nope"), "cpu", None, Err("unknown_tool")),
            (None, "cpu", Some("de"), Err("invalid_field")),
        ];
        for (tool, tier, to, want) in cases {
            let got = validate(*tool, tier, *to).map(|t| t.map(|t| t.slug)).map_err(|e| e.status_and_code().1);
            assert_eq!(&got, want, "{tool:?} {tier} {to:?}");
        }
    }
}
