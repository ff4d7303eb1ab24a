//! The tool catalogue served by `GET /api/v1/tools/` and the validation of a
//! submission's `tier`, `language`, `tool` and `translate_to` fields.
//!
//! A tool is a preset: on the `vlm` tier it picks the prompt
//! ([`super::LlmClient::transcribe_page`]); on the `cpu` tier only tools the
//! engine can honour are accepted (`extract-tables`: the layout's table
//! detection), plus `translate` when a chat LLM is configured to translate
//! the engine's text. Validation happens before anything is charged, and
//! every failure names the form field so the server answers `400`.

use ocrchat_engine::registry;
use serde::{Deserialize, Serialize};

/// OCR tier of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// The built-in engine (PP-OCR on rten).
    Cpu,
    /// The configured vision-language model.
    Vlm,
}

impl Tier {
    /// `cpu` or `vlm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Cpu => "cpu",
            Tier::Vlm => "vlm",
        }
    }
}

/// A tool preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    /// Tables as Markdown pipe tables (and CSV).
    ExtractTables,
    /// Plain OCR of printed images (OCR.chat's slug; the default behaviour).
    ImageToText,
    /// Plain text of every PDF page (OCR.chat's slug; the default behaviour).
    PdfToText,
    /// Handwritten pages.
    HandwritingToText,
    /// Recognised text translated into `translate_to`.
    Translate,
    /// Formulas as LaTeX.
    MathToLatex,
}

/// What the `cpu` tier can do with a tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuSupport {
    /// The engine does it itself.
    Engine,
    /// The engine reads the text, the configured chat LLM post-processes it.
    WithLlm,
    /// Only a VLM can do it.
    No,
}

/// One entry of the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct ToolSpec {
    /// The tool.
    pub tool: Tool,
    /// The `tool` form value.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// One sentence for API users.
    pub description: &'static str,
    /// What the `cpu` tier can do with it (every tool works on `vlm`).
    pub cpu: CpuSupport,
    /// Whether `translate_to` must accompany it.
    pub requires_translate_to: bool,
}

/// Every tool, in catalogue order.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        tool: Tool::ExtractTables,
        slug: "extract-tables",
        name: "Extract tables",
        description: "Finds the tables on each page and returns them as Markdown tables (and CSV on download); \
                      the rest of the text is kept around them.",
        cpu: CpuSupport::Engine,
        requires_translate_to: false,
    },
    ToolSpec {
        tool: Tool::ImageToText,
        slug: "image-to-text",
        name: "Image to text",
        description: "Plain text of printed documents, in reading order (what a job does without a tool).",
        cpu: CpuSupport::Engine,
        requires_translate_to: false,
    },
    ToolSpec {
        tool: Tool::PdfToText,
        slug: "pdf-to-text",
        name: "PDF to text",
        description: "Text of every page: the text layer of born-digital pages, OCR for scanned ones.",
        cpu: CpuSupport::Engine,
        requires_translate_to: false,
    },
    ToolSpec {
        tool: Tool::HandwritingToText,
        slug: "handwriting-to-text",
        name: "Handwriting to text",
        description: "Transcribes handwritten notes, letters and forms line by line. Needs tier=vlm.",
        cpu: CpuSupport::No,
        requires_translate_to: false,
    },
    ToolSpec {
        tool: Tool::Translate,
        slug: "translate",
        name: "Translate",
        description: "Recognises the text and returns it translated into translate_to, keeping headings, \
                      lists and tables. On tier=cpu the server's chat model translates the engine's text.",
        cpu: CpuSupport::WithLlm,
        requires_translate_to: true,
    },
    ToolSpec {
        tool: Tool::MathToLatex,
        slug: "math-to-latex",
        name: "Math to LaTeX",
        description: "Transcribes formulas and equations as LaTeX ($…$ inline, $$…$$ displayed) within the \
                      text. Needs tier=vlm.",
        cpu: CpuSupport::No,
        requires_translate_to: false,
    },
];

impl Tool {
    /// The tool's catalogue entry.
    pub fn spec(self) -> &'static ToolSpec {
        TOOLS.iter().find(|s| s.tool == self).expect("every tool is in TOOLS")
    }

    /// The `tool` form value.
    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    /// Parses a slug (exact, lower-case as listed).
    pub fn from_slug(slug: &str) -> Option<Tool> {
        TOOLS.iter().find(|s| s.slug == slug).map(|s| s.tool)
    }
}

/// What this server can run: decides which tiers and tools are offered.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// A VLM endpoint is configured (`tier=vlm` works).
    pub vlm: bool,
    /// A chat LLM endpoint is configured (chat; `translate` on `cpu`).
    pub llm: bool,
    /// Canonical codes the installed engine models read
    /// (`registry::supported_languages(&installed)`).
    pub cpu_languages: Vec<&'static str>,
}

impl Capabilities {
    /// What a server with these engine models and endpoints can run.
    pub fn new(installed: &[registry::ModelSpec], vlm: bool, llm: bool) -> Self {
        Capabilities { vlm, llm, cpu_languages: registry::supported_languages(installed) }
    }

    /// Tiers on which `spec` works on this server.
    pub fn tiers_for(&self, spec: &ToolSpec) -> Vec<Tier> {
        let cpu = match spec.cpu {
            CpuSupport::Engine => true,
            CpuSupport::WithLlm => self.llm,
            CpuSupport::No => false,
        };
        [(Tier::Cpu, cpu), (Tier::Vlm, self.vlm)].into_iter().filter(|(_, ok)| *ok).map(|(t, _)| t).collect()
    }
}

/// A catalogue entry as `GET /api/v1/tools/` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ToolInfo {
    /// The `tool` form value.
    pub slug: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Tiers it works on with this server's configuration (may be empty).
    pub tiers: Vec<Tier>,
    /// Whether `translate_to` is required.
    pub requires_translate_to: bool,
}

/// The catalogue for `GET /api/v1/tools/`, tiers as configured.
pub fn catalogue(caps: &Capabilities) -> Vec<ToolInfo> {
    TOOLS
        .iter()
        .map(|s| ToolInfo {
            slug: s.slug,
            name: s.name,
            description: s.description,
            tiers: caps.tiers_for(s),
            requires_translate_to: s.requires_translate_to,
        })
        .collect()
}

/// A submission's validated options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
pub enum ToolError {
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

impl ToolError {
    /// The form field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ToolError::UnknownTier(_) | ToolError::VlmUnavailable => "tier",
            ToolError::UnknownTool { .. } | ToolError::ToolNotOnTier { .. } => "tool",
            ToolError::MissingTranslateTo | ToolError::UnexpectedTranslateTo | ToolError::BadTranslateTo(_) => {
                "translate_to"
            }
            ToolError::BadLanguage { .. } => "language",
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
) -> Result<JobOptions, ToolError> {
    fn present(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let tier = match present(tier).map(str::to_ascii_lowercase).as_deref() {
        None | Some("cpu") => Tier::Cpu,
        Some("vlm") => Tier::Vlm,
        Some(other) => return Err(ToolError::UnknownTier(other.to_string())),
    };
    if tier == Tier::Vlm && !caps.vlm {
        return Err(ToolError::VlmUnavailable);
    }
    let tool = match present(tool) {
        None => None,
        Some(slug) => Some(Tool::from_slug(&slug.to_ascii_lowercase()).ok_or_else(|| ToolError::UnknownTool {
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
        return Err(ToolError::ToolNotOnTier { tool: t.slug(), tier: tier.as_str(), hint });
    }

    let translate_to = match (tool, present(translate_to)) {
        (Some(Tool::Translate), None) => return Err(ToolError::MissingTranslateTo),
        (Some(Tool::Translate), Some(code)) => {
            let canon = registry::canonical_language(code);
            if canon == "auto" || language_name(&canon).is_none() {
                return Err(ToolError::BadTranslateTo(code.to_string()));
            }
            Some(canon)
        }
        (_, Some(_)) => return Err(ToolError::UnexpectedTranslateTo),
        (_, None) => None,
    };

    let language = match present(language) {
        None => "auto".to_string(),
        Some(code) => {
            let canon = registry::canonical_language(code);
            let known = match tier {
                Tier::Cpu => canon == "auto" || caps.cpu_languages.contains(&canon.as_str()),
                Tier::Vlm => canon == "auto" || language_name(&canon).is_some(),
            };
            if !known {
                let supported = match tier {
                    Tier::Cpu => caps.cpu_languages.join(", "),
                    Tier::Vlm => LANGUAGES.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", "),
                };
                return Err(ToolError::BadLanguage {
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

/// English name of a canonical language code (what prompts say), if known.
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// Languages a VLM is asked to read or write: ISO 639-1 codes (plus the
/// engine's `zh-tw` and `sr-latn`), as canonicalised by
/// `registry::canonical_language`. A code outside this list is refused
/// rather than passed to the model as an unknown string.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("af", "Afrikaans"),
    ("am", "Amharic"),
    ("ar", "Arabic"),
    ("as", "Assamese"),
    ("az", "Azerbaijani"),
    ("be", "Belarusian"),
    ("bg", "Bulgarian"),
    ("bn", "Bengali"),
    ("bo", "Tibetan"),
    ("br", "Breton"),
    ("bs", "Bosnian"),
    ("ca", "Catalan"),
    ("cs", "Czech"),
    ("cy", "Welsh"),
    ("da", "Danish"),
    ("de", "German"),
    ("el", "Greek"),
    ("en", "English"),
    ("eo", "Esperanto"),
    ("es", "Spanish"),
    ("et", "Estonian"),
    ("eu", "Basque"),
    ("fa", "Persian"),
    ("fi", "Finnish"),
    ("fil", "Filipino"),
    ("fo", "Faroese"),
    ("fr", "French"),
    ("fy", "Western Frisian"),
    ("ga", "Irish"),
    ("gd", "Scottish Gaelic"),
    ("gl", "Galician"),
    ("gu", "Gujarati"),
    ("ha", "Hausa"),
    ("he", "Hebrew"),
    ("hi", "Hindi"),
    ("hr", "Croatian"),
    ("ht", "Haitian Creole"),
    ("hu", "Hungarian"),
    ("hy", "Armenian"),
    ("id", "Indonesian"),
    ("ig", "Igbo"),
    ("is", "Icelandic"),
    ("it", "Italian"),
    ("ja", "Japanese"),
    ("jv", "Javanese"),
    ("ka", "Georgian"),
    ("kk", "Kazakh"),
    ("km", "Khmer"),
    ("kn", "Kannada"),
    ("ko", "Korean"),
    ("ku", "Kurdish"),
    ("ky", "Kyrgyz"),
    ("la", "Latin"),
    ("lb", "Luxembourgish"),
    ("lo", "Lao"),
    ("lt", "Lithuanian"),
    ("lv", "Latvian"),
    ("mg", "Malagasy"),
    ("mi", "Maori"),
    ("mk", "Macedonian"),
    ("ml", "Malayalam"),
    ("mn", "Mongolian"),
    ("mr", "Marathi"),
    ("ms", "Malay"),
    ("mt", "Maltese"),
    ("my", "Burmese"),
    ("ne", "Nepali"),
    ("nl", "Dutch"),
    ("no", "Norwegian"),
    ("oc", "Occitan"),
    ("or", "Odia"),
    ("pa", "Punjabi"),
    ("pl", "Polish"),
    ("ps", "Pashto"),
    ("pt", "Portuguese"),
    ("qu", "Quechua"),
    ("rm", "Romansh"),
    ("ro", "Romanian"),
    ("ru", "Russian"),
    ("rw", "Kinyarwanda"),
    ("sa", "Sanskrit"),
    ("sd", "Sindhi"),
    ("si", "Sinhala"),
    ("sk", "Slovak"),
    ("sl", "Slovenian"),
    ("so", "Somali"),
    ("sq", "Albanian"),
    ("sr", "Serbian"),
    ("sr-latn", "Serbian (Latin script)"),
    ("sv", "Swedish"),
    ("sw", "Swahili"),
    ("ta", "Tamil"),
    ("te", "Telugu"),
    ("tg", "Tajik"),
    ("th", "Thai"),
    ("ti", "Tigrinya"),
    ("tk", "Turkmen"),
    ("tl", "Tagalog"),
    ("tr", "Turkish"),
    ("tt", "Tatar"),
    ("ug", "Uyghur"),
    ("uk", "Ukrainian"),
    ("ur", "Urdu"),
    ("uz", "Uzbek"),
    ("vi", "Vietnamese"),
    ("xh", "Xhosa"),
    ("yi", "Yiddish"),
    ("yo", "Yoruba"),
    ("zh", "Chinese (Simplified)"),
    ("zh-tw", "Chinese (Traditional)"),
    ("zu", "Zulu"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(vlm: bool, llm: bool) -> Capabilities {
        Capabilities { vlm, llm, cpu_languages: registry::supported_languages(registry::CATALOG) }
    }

    #[test]
    fn catalogue_is_consistent() {
        let mut slugs: Vec<_> = TOOLS.iter().map(|s| s.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), TOOLS.len(), "slugs are unique");
        for s in TOOLS {
            assert_eq!(Tool::from_slug(s.slug), Some(s.tool));
            assert_eq!(serde_json::to_value(s.tool).unwrap(), s.slug, "serde name = slug");
        }
        for s in ["extract-tables", "handwriting-to-text", "translate"] {
            assert!(Tool::from_slug(s).is_some(), "{s} is required by the spec");
        }
        let mut codes: Vec<_> = LANGUAGES.iter().map(|(c, _)| *c).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "LANGUAGES sorted and unique");
        codes.retain(|c| registry::canonical_language(c) != *c);
        assert!(codes.is_empty(), "codes are canonical: {codes:?}");
        // Every language the engine reads is one a VLM can be asked for too.
        for c in registry::supported_languages(registry::CATALOG) {
            assert!(language_name(c).is_some(), "{c} missing from LANGUAGES");
        }
    }

    #[test]
    fn catalogue_tiers_follow_configuration() {
        let tiers = |c: &Capabilities, slug: &str| catalogue(c).into_iter().find(|t| t.slug == slug).unwrap().tiers;
        assert_eq!(tiers(&caps(false, false), "extract-tables"), vec![Tier::Cpu]);
        assert_eq!(tiers(&caps(false, false), "translate"), vec![]);
        assert_eq!(tiers(&caps(false, true), "translate"), vec![Tier::Cpu]);
        assert_eq!(tiers(&caps(true, false), "handwriting-to-text"), vec![Tier::Vlm]);
        assert_eq!(tiers(&caps(true, true), "translate"), vec![Tier::Cpu, Tier::Vlm]);
        let json = serde_json::to_value(catalogue(&caps(true, false))).unwrap();
        assert_eq!(json[0]["slug"], "extract-tables");
        assert_eq!(json[0]["tiers"], serde_json::json!(["cpu", "vlm"]));
        let translate = json.as_array().unwrap().iter().find(|t| t["slug"] == "translate").unwrap();
        assert_eq!(translate["requires_translate_to"], true);
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
