//! The tiers, the tool catalogue served by `GET /api/v1/tools/` and the
//! languages a model can be asked for.
//!
//! A tool is a preset: on the `vlm` tier it picks the prompt
//! ([`super::LlmClient::transcribe_page`]); on the `cpu` tier only tools the
//! engine can honour work (`extract-tables`: the layout's table detection),
//! plus `translate` when a chat LLM is configured to translate the engine's
//! text ([`Capabilities::tiers_for`]). The API checks a submission against
//! this (`api::options`).

use ocrchat_engine::{LanguageStatus, registry};
use serde::{Deserialize, Serialize};

/// OCR tier of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Canonical codes the installed engine models read.
    pub cpu_languages: Vec<&'static str>,
    /// Known codes whose Tesseract packs are not installed, with those packs.
    pub cpu_not_installed: Vec<(&'static str, &'static str)>,
}

impl Capabilities {
    /// What a server with these languages installed and these endpoints can run.
    pub fn new(languages: &[LanguageStatus], vlm: bool, llm: bool) -> Self {
        let cpu_languages = languages.iter().filter(|l| l.installed).map(|l| l.language.code).collect();
        let cpu_not_installed = languages
            .iter()
            .filter(|l| !l.installed)
            .filter_map(|l| Some((l.language.code, l.language.packs?)))
            .collect();
        Capabilities { vlm, llm, cpu_languages, cpu_not_installed }
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
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
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

/// English name of a canonical language code (what prompts say), if known:
/// the engine's language table is the one list of codes every tier accepts.
pub fn language_name(code: &str) -> Option<&'static str> {
    registry::language(code).map(|l| l.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(vlm: bool, llm: bool) -> Capabilities {
        Capabilities { vlm, llm, cpu_languages: registry::supported_languages(registry::CATALOG), ..Default::default() }
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
        let mut codes: Vec<_> = registry::languages().iter().map(|l| l.code).collect();
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "the language table is sorted and unique");
        codes.retain(|c| registry::canonical_language(c) != *c);
        assert!(codes.is_empty(), "codes are canonical: {codes:?}");
        // Every language the engine reads is one a VLM can be asked for too.
        for c in registry::supported_languages(registry::CATALOG) {
            assert!(language_name(c).is_some(), "{c} missing from the language table");
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
}
