//! The options of a submission — the `tier`, `language`, `tool` and
//! `translate_to` form fields — checked against what this server can run
//! and canonicalised, before anything is charged. Every failure names the
//! form field and becomes a `400` (or `501` for a tier the server does not
//! offer) through [`ApiError`](crate::error::ApiError).
//!
//! The rules (also in `/openapi.json` as far as a schema can say them):
//! `translate_to` is required with `tool=translate` and refused without it;
//! a tool must work on the requested tier on this server
//! ([`Capabilities::tiers_for`]); `language` must be read by the tier.

use ocrchat_engine::registry;

use crate::llm::tools::{CpuSupport, TOOLS, language_name};
use crate::llm::{Capabilities, Tier, Tool};

/// A submission's validated options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobOptions {
    /// OCR tier.
    pub tier: Tier,
    /// Canonical language code or `auto`.
    pub language: String,
    /// Tool preset, if any.
    pub tool: Option<Tool>,
    /// Canonical target language (with `tool=translate` only).
    pub translate_to: Option<String>,
}

/// Why a submission's fields are refused (the server answers `400`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionError {
    /// `tier` is neither `cpu` nor `vlm`.
    #[error("unknown tier {0:?}: use cpu or vlm")]
    UnknownTier(String),
    /// `tier=vlm` but no VLM is configured.
    #[error("tier vlm is not available on this server (no vision model is configured)")]
    VlmUnavailable,
    /// `tool` is not in the catalogue.
    #[error("unknown tool {slug:?}; known tools: {known}")]
    UnknownTool {
        /// The value sent.
        slug: String,
        /// Comma-separated slugs.
        known: String,
    },
    /// The tool does not work on the requested tier here.
    #[error("tool {tool} does not work with tier={tier}{hint}")]
    ToolNotOnTier {
        /// Tool slug.
        tool: &'static str,
        /// Requested tier.
        tier: &'static str,
        /// What would work, for the message.
        hint: &'static str,
    },
    /// `tool=translate` without `translate_to`.
    #[error("translate_to is required with tool=translate")]
    MissingTranslateTo,
    /// `translate_to` without `tool=translate`.
    #[error("translate_to is only used with tool=translate")]
    UnexpectedTranslateTo,
    /// `translate_to` is not a language code we know.
    #[error("unknown translate_to language {0:?}")]
    BadTranslateTo(String),
    /// `language` is known, but the Tesseract packs that read it on the cpu
    /// tier are not installed on this server.
    #[error(
        "language {code:?} needs the Tesseract pack(s) {packs}, which are not installed on this server; \
         the operator installs them with `make models LANGS={packs}` (scripts/fetch-tessdata.sh {packs}), \
         or use tier=vlm"
    )]
    LanguageNotInstalled {
        /// The value sent.
        code: String,
        /// The missing packs, `+`-joined.
        packs: String,
    },
    /// `language` is unknown, or the tier cannot read it.
    #[error("unsupported language {code:?} for tier={tier}; supported: {supported}")]
    BadLanguage {
        /// The value sent.
        code: String,
        /// Requested tier.
        tier: &'static str,
        /// Comma-separated supported codes.
        supported: String,
    },
}

impl OptionError {
    /// The form field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            OptionError::UnknownTier(_) | OptionError::VlmUnavailable => "tier",
            OptionError::UnknownTool { .. } | OptionError::ToolNotOnTier { .. } => "tool",
            OptionError::MissingTranslateTo | OptionError::UnexpectedTranslateTo | OptionError::BadTranslateTo(_) => {
                "translate_to"
            }
            OptionError::BadLanguage { .. } | OptionError::LanguageNotInstalled { .. } => "language",
        }
    }
}

/// Validates a submission's optional form fields (absent or empty = default)
/// against what this server can run, and canonicalises the codes.
pub fn validate(
    tool: Option<&str>,
    tier: Option<&str>,
    translate_to: Option<&str>,
    language: Option<&str>,
    caps: &Capabilities,
) -> Result<JobOptions, OptionError> {
    fn present(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let tier = match present(tier).map(str::to_ascii_lowercase).as_deref() {
        None | Some("cpu") => Tier::Cpu,
        Some("vlm") => Tier::Vlm,
        Some(other) => return Err(OptionError::UnknownTier(other.to_string())),
    };
    if tier == Tier::Vlm && !caps.vlm {
        return Err(OptionError::VlmUnavailable);
    }
    let tool = match present(tool) {
        None => None,
        Some(slug) => Some(Tool::from_slug(&slug.to_ascii_lowercase()).ok_or_else(|| OptionError::UnknownTool {
            slug: slug.to_string(),
            known: TOOLS.iter().map(|s| s.slug).collect::<Vec<_>>().join(", "),
        })?),
    };
    if let Some(t) = tool
        && !caps.tiers_for(t.spec()).contains(&tier)
    {
        let hint = match (t.spec().cpu, caps.vlm) {
            (CpuSupport::WithLlm, true) => " on this server (no chat model is configured); use tier=vlm",
            (CpuSupport::WithLlm, false) => " on this server (no chat or vision model is configured)",
            (_, true) => "; use tier=vlm",
            (_, false) => " (it needs tier=vlm, which this server does not offer)",
        };
        return Err(OptionError::ToolNotOnTier { tool: t.slug(), tier: tier.as_str(), hint });
    }

    let translate_to = match (tool, present(translate_to)) {
        (Some(Tool::Translate), None) => return Err(OptionError::MissingTranslateTo),
        (Some(Tool::Translate), Some(code)) => {
            let canon = registry::canonical_language(code);
            if canon == "auto" || language_name(&canon).is_none() {
                return Err(OptionError::BadTranslateTo(code.to_string()));
            }
            Some(canon)
        }
        (_, Some(_)) => return Err(OptionError::UnexpectedTranslateTo),
        (_, None) => None,
    };

    let language = match present(language) {
        None => "auto".to_string(),
        Some(code) => {
            let canon = registry::canonical_language(code);
            let known = match tier {
                Tier::Cpu => canon == "auto" || canon.split('+').all(|c| caps.cpu_languages.contains(&c)),
                Tier::Vlm => canon == "auto" || language_name(&canon).is_some(),
            };
            if !known {
                if tier == Tier::Cpu {
                    let missing: Vec<&str> = canon
                        .split('+')
                        .filter_map(|c| caps.cpu_not_installed.iter().find(|(code, _)| *code == c).map(|(_, p)| *p))
                        .collect();
                    let known_parts = canon.split('+').all(|c| {
                        caps.cpu_languages.contains(&c) || caps.cpu_not_installed.iter().any(|(k, _)| *k == c)
                    });
                    if !missing.is_empty() && known_parts {
                        return Err(OptionError::LanguageNotInstalled {
                            code: code.to_string(),
                            packs: missing.join("+"),
                        });
                    }
                }
                let supported = match tier {
                    Tier::Cpu => caps.cpu_languages.join(", "),
                    Tier::Vlm => registry::languages().iter().map(|l| l.code).collect::<Vec<_>>().join(", "),
                };
                return Err(OptionError::BadLanguage {
                    code: code.to_string(),
                    tier: tier.as_str(),
                    supported: format!("auto, {supported}"),
                });
            }
            canon
        }
    };
    Ok(JobOptions { tier, language, tool, translate_to })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(vlm: bool, llm: bool) -> Capabilities {
        Capabilities { vlm, llm, cpu_languages: registry::supported_languages(registry::CATALOG), ..Default::default() }
    }

    #[test]
    fn submissions_validate_or_name_the_field() {
        type Case =
            (Option<&'static str>, Option<&'static str>, Option<&'static str>, Option<&'static str>, bool, bool);
        // (tool, tier, translate_to, language, vlm configured, llm configured) → Ok(options) or Err(field)
        fn ok(tier: Tier, language: &str, tool: Option<Tool>, to: Option<&str>) -> Result<JobOptions, &'static str> {
            Ok(JobOptions { tier, language: language.into(), tool, translate_to: to.map(String::from) })
        }
        let cases: &[(Case, Result<JobOptions, &str>)] = &[
            ((None, None, None, None, false, false), ok(Tier::Cpu, "auto", None, None)),
            ((Some(""), Some(" "), Some(""), Some(""), false, false), ok(Tier::Cpu, "auto", None, None)),
            ((None, Some("CPU"), None, Some("DE"), false, false), ok(Tier::Cpu, "de", None, None)),
            ((None, None, None, Some("ch"), false, false), ok(Tier::Cpu, "zh", None, None)),
            (
                (Some("extract-tables"), None, None, Some("en"), false, false),
                ok(Tier::Cpu, "en", Some(Tool::ExtractTables), None),
            ),
            ((None, Some("gpu"), None, None, true, true), Err("tier")),
            ((None, Some("vlm"), None, None, false, true), Err("tier")),
            ((None, Some("vlm"), None, Some("ar"), true, false), ok(Tier::Vlm, "ar", None, None)),
            ((None, None, None, Some("ar"), true, false), Err("language")), // the engine has no Arabic model
            ((None, Some("vlm"), None, Some("xx"), true, false), Err("language")),
            ((Some("summarise"), None, None, None, true, true), Err("tool")),
            ((Some("handwriting-to-text"), None, None, None, true, true), Err("tool")),
            (
                (Some("handwriting-to-text"), Some("vlm"), None, None, true, false),
                ok(Tier::Vlm, "auto", Some(Tool::HandwritingToText), None),
            ),
            ((Some("math-to-latex"), Some("cpu"), None, None, false, false), Err("tool")),
            ((Some("translate"), Some("vlm"), None, None, true, false), Err("translate_to")),
            ((Some("translate"), Some("vlm"), Some("auto"), None, true, false), Err("translate_to")),
            ((Some("translate"), Some("vlm"), Some("klingon"), None, true, false), Err("translate_to")),
            (
                (Some("translate"), Some("vlm"), Some("FR"), Some("de"), true, false),
                ok(Tier::Vlm, "de", Some(Tool::Translate), Some("fr")),
            ),
            ((Some("translate"), None, Some("fr"), None, true, false), Err("tool")), // cpu translation needs the chat LLM
            (
                (Some("translate"), None, Some("ja"), Some("en"), false, true),
                ok(Tier::Cpu, "en", Some(Tool::Translate), Some("ja")),
            ),
            ((None, None, Some("fr"), None, true, true), Err("translate_to")),
            ((Some("extract-tables"), None, Some("fr"), None, true, true), Err("translate_to")),
        ];
        for ((tool, tier, to, lang, vlm, llm), want) in cases {
            let got = validate(*tool, *tier, *to, *lang, &caps(*vlm, *llm));
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(&g, w, "{tool:?} {tier:?} {to:?} {lang:?}"),
                (Err(e), Err(field)) => {
                    assert_eq!(e.field(), *field, "{tool:?} {tier:?} {to:?} {lang:?}: {e}");
                    assert!(!e.to_string().is_empty());
                }
                (g, w) => panic!("{tool:?} {tier:?} {to:?} {lang:?}: got {g:?}, want {w:?}"),
            }
        }
    }
}
