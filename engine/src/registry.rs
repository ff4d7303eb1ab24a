//! Which model serves which language. A language no installed model serves is
//! an error that lists what is supported — never silently garbled text.

use crate::ModelSize;
use crate::error::{EngineError, Result};

/// Where Tesseract packs live under the models directory (and URL).
pub const TESSDATA_DIR: &str = "tessdata";
/// The packs' manifest in that directory (scripts/fetch-tessdata.sh): each
/// pack and tesseract-wasm file with its sha256.
pub const TESSDATA_MANIFEST: &str = "manifest.json";

/// A model the engine knows how to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    /// Directory name under the models directory.
    pub name: &'static str,
    /// Model family (PP-OCR generation).
    pub family: &'static str,
    /// Size class.
    pub size: ModelSize,
    /// Canonical language codes served (ISO 639-1 where one exists).
    pub languages: &'static [&'static str],
    /// `make models` makes an int8 recogniser for it ([`crate::INT8_REC_FILE`]).
    pub int8: bool,
}

/// Latin-script languages PP-OCRv6 recognises (from its model card), ISO 639-1.
const LATIN: &[&str] = &[
    "af", "az", "bs", "ca", "cs", "cy", "da", "de", "en", "es", "et", "eu", "fi", "fr", "ga", "gl", "hr", "hu", "id",
    "is", "it", "ku", "la", "lb", "lt", "lv", "mi", "ms", "mt", "nl", "no", "oc", "pl", "pt", "qu", "rm", "ro",
    "sr-latn", "sk", "sl", "sq", "sv", "sw", "tl", "tr", "uz", "vi",
];

const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

const SMALL_LANGS: [&str; LATIN.len() + 3] = concat(&["zh", "zh-tw", "ja"], LATIN);
const TINY_LANGS: [&str; LATIN.len() + 2] = concat(&["zh", "zh-tw"], LATIN);

/// PP-OCRv6 small: Chinese (simplified, traditional), Japanese, Latin scripts.
pub const PPOCRV6_SMALL: ModelSpec = ModelSpec {
    name: "ppocrv6-small",
    family: "pp-ocrv6",
    size: ModelSize::Small,
    languages: &SMALL_LANGS,
    int8: true,
};
/// PP-OCRv6 tiny: as small without Japanese.
pub const PPOCRV6_TINY: ModelSpec =
    ModelSpec { name: "ppocrv6-tiny", family: "pp-ocrv6", size: ModelSize::Tiny, languages: &TINY_LANGS, int8: false };

/// Every model the engine can run, preferred first.
pub const CATALOG: &[ModelSpec] = &[PPOCRV6_SMALL, PPOCRV6_TINY];

/// One language of the table every host shares (`registry/languages.tsv`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Language {
    /// Canonical code (ISO 639-1 where one exists, else ISO 639-3; `zh-tw`, `sr-latn`).
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Script, as Tesseract's OSD names it ("Latin", "Cyrillic", "Han"…).
    pub script: &'static str,
    /// Tesseract packs that read it, `+`-joined (`None`: no pack exists).
    pub packs: Option<&'static str>,
}

/// Which recogniser family reads a language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// PP-OCRv6 (detector + CTC line recogniser): more accurate and faster
    /// where it serves the language, so it is preferred there.
    PpOcr,
    /// Tesseract 5 LSTM (`tessdata_fast`), page segmentation included.
    Tesseract,
}

impl Family {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::PpOcr => "pp-ocrv6",
            Family::Tesseract => "tesseract",
        }
    }
}

const LANGUAGES_TSV: &str = include_str!("registry/languages.tsv");

/// Every language the engine knows, sorted by code.
pub fn languages() -> &'static [Language] {
    static TABLE: std::sync::OnceLock<Vec<Language>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        LANGUAGES_TSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut f = l.split('\t');
                let mut next = || f.next().map(str::trim).unwrap_or_default();
                let (code, name, script, packs) = (next(), next(), next(), next());
                Language { code, name, script, packs: (!packs.is_empty() && packs != "-").then_some(packs) }
            })
            .collect()
    })
}

/// A language and whether a host can read it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanguageStatus {
    /// The table's entry.
    pub language: &'static Language,
    /// The family that reads it.
    pub family: Family,
    /// Its model (PP-OCR) or packs (Tesseract) are installed.
    pub installed: bool,
}

/// Every language of the table that some family reads, and whether a host
/// reads it now: PP-OCR languages when `line_models` (the codes its
/// installed models serve) has them, Tesseract ones when `packs_installed`
/// says so for their `+`-joined packs. The native hosts and the browser
/// worker each answer the two questions for themselves.
pub fn language_statuses(line_models: &[&str], packs_installed: impl Fn(&str) -> bool) -> Vec<LanguageStatus> {
    languages()
        .iter()
        .filter_map(|language| {
            let family = family_of(language.code)?;
            let installed = match family {
                Family::PpOcr => line_models.contains(&language.code),
                Family::Tesseract => language.packs.is_some_and(&packs_installed),
            };
            Some(LanguageStatus { language, family, installed })
        })
        .collect()
}

/// The table's entry for a canonical code.
pub fn language(code: &str) -> Option<&'static Language> {
    languages().iter().find(|l| l.code == code)
}

/// The family that reads `code` (canonical) best among the catalog's models:
/// PP-OCR where any of its models serves the language, else Tesseract where a
/// pack exists.
pub fn family_of(code: &str) -> Option<Family> {
    if CATALOG.iter().any(|m| m.languages.contains(&code)) {
        Some(Family::PpOcr)
    } else {
        language(code).and_then(|l| l.packs).map(|_| Family::Tesseract)
    }
}

/// The Tesseract pack `language=auto` tries for each script the line models
/// do not read, when a page defeats them. One pack per script: adding `eng`
/// to each (for Latin words on the page) measured worse on pure pages (kan
/// CER 0.00 → 0.16, kor 0.00 → 0.07: Latin look-alikes win); mixed pages ask
/// for `ru+en` explicitly.
pub const AUTO_PACKS: &[(&str, &str)] = &[
    ("Cyrillic", "rus"),
    ("Greek", "ell"),
    ("Arabic", "ara"),
    ("Hebrew", "heb"),
    ("Devanagari", "hin"),
    ("Bengali", "ben"),
    ("Tamil", "tam"),
    ("Telugu", "tel"),
    ("Kannada", "kan"),
    ("Thai", "tha"),
    ("Hangul", "kor"),
    ("Syriac", "syr"),
    ("Thaana", "div"),
];

/// How a (canonical, possibly `a+b` combined) language code is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// The PP-OCR line models read it (or `auto`, which routes by script).
    Lines,
    /// Tesseract reads every page with these packs (`+`-joined).
    Tesseract(String),
}

/// Splits a `+`-combined request into canonical codes.
pub fn canonical_codes(language: &str) -> Vec<String> {
    language.split('+').map(canonical_one).collect()
}

/// Decides the family for a request: PP-OCR when it serves every part, else
/// Tesseract with the packs of every part. Errors: an unknown part
/// ([`EngineError::UnsupportedLanguage`]), a part no family reads on its own
/// here.
pub fn plan(request: &str) -> Result<Plan> {
    let codes = canonical_codes(request);
    if codes.iter().any(|c| c == "auto") {
        return if codes.len() == 1 { Ok(Plan::Lines) } else { Err(unsupported(request)) };
    }
    let mut families = Vec::new();
    for code in &codes {
        families.push(family_of(code).ok_or_else(|| unsupported(request))?);
    }
    if families.iter().all(|f| *f == Family::PpOcr)
        && CATALOG.iter().any(|m| codes.iter().all(|c| m.languages.contains(&c.as_str())))
    {
        return Ok(Plan::Lines);
    }
    let mut packs: Vec<&str> = Vec::new();
    for code in &codes {
        let entry = language(code).and_then(|l| l.packs).ok_or_else(|| unsupported(request))?;
        for p in entry.split('+') {
            if !packs.contains(&p) {
                packs.push(p);
            }
        }
    }
    Ok(Plan::Tesseract(packs.join("+")))
}

fn unsupported(code: &str) -> EngineError {
    let mut codes: Vec<&str> = languages().iter().filter(|l| family_of(l.code).is_some()).map(|l| l.code).collect();
    codes.dedup();
    EngineError::UnsupportedLanguage { code: code.to_string(), supported: format!("auto, {}", codes.join(", ")) }
}

/// Maps the codes people use (ISO 639-1/2, PaddleOCR and Tesseract names) to
/// our canonical code (each part of an `a+b` combination). `auto` stays `auto`.
pub fn canonical_language(code: &str) -> String {
    if code.contains('+') {
        return code.split('+').map(canonical_one).collect::<Vec<_>>().join("+");
    }
    canonical_one(code)
}

fn canonical_one(code: &str) -> String {
    let c = code.trim().to_ascii_lowercase().replace('_', "-");
    let mapped = match c.as_str() {
        "" | "auto" => "auto",
        "ch" | "zh-cn" | "zh-hans" | "chi-sim" | "chinese" => "zh",
        "chinese-cht" | "zh-hant" | "chi-tra" | "zh-hk" => "zh-tw",
        "japan" | "jp" | "jpn" => "ja",
        "eng" => "en",
        "deu" | "ger" | "german" => "de",
        "fra" | "fre" | "french" => "fr",
        "spa" => "es",
        "ita" => "it",
        "por" => "pt",
        "nld" | "dut" => "nl",
        "rs-latin" | "sr-latin" => "sr-latn",
        "nb" | "nn" => "no",
        other => other,
    };
    if language(mapped).is_none()
        && let Some(l) = languages()
            .iter()
            .find(|l| l.packs.is_some_and(|p| p.split('+').next().is_some_and(|p| p.replace('_', "-") == mapped)))
    {
        // A Tesseract pack name (`rus`, `ara`, `chi_sim`→ handled above) names its language.
        return l.code.to_string();
    }
    mapped.to_string()
}

/// The characters a page in `language` can need: Latin-script languages never
/// emit the CJK classes, so their recogniser loads with a pruned head; `auto`
/// and CJK languages keep every class.
pub fn charset_for(language: &str) -> crate::Charset {
    let lang = canonical_language(language);
    if LATIN.contains(&lang.as_str()) { crate::Charset::Latin } else { crate::Charset::All }
}

/// Languages served by any of the `installed` models, sorted.
pub fn supported_languages(installed: &[ModelSpec]) -> Vec<&'static str> {
    let mut langs: Vec<&'static str> = installed.iter().flat_map(|m| m.languages.iter().copied()).collect();
    langs.sort_unstable();
    langs.dedup();
    langs
}

/// Picks the model for `language`: the preferred size when it serves the
/// language, else any installed model that does.
pub fn select_model(language: &str, preferred: ModelSize, installed: &[ModelSpec]) -> Result<ModelSpec> {
    let lang = canonical_language(language);
    let serves = |m: &&ModelSpec| lang == "auto" || m.languages.contains(&lang.as_str());
    if let Some(m) = installed.iter().filter(|m| m.size == preferred).find(serves) {
        return Ok(*m);
    }
    if let Some(m) = installed.iter().find(serves) {
        return Ok(*m);
    }
    if installed.is_empty() {
        return Err(EngineError::ModelsMissing { detail: "no model is installed".into(), source: None });
    }
    Err(EngineError::UnsupportedLanguage {
        code: language.to_string(),
        supported: format!("auto, {}", supported_languages(installed).join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_resolve_to_models() {
        let both = [PPOCRV6_SMALL, PPOCRV6_TINY];
        let cases: &[(&str, ModelSize, &[ModelSpec], Option<&str>)] = &[
            ("auto", ModelSize::Small, &both, Some("ppocrv6-small")),
            ("auto", ModelSize::Tiny, &both, Some("ppocrv6-tiny")),
            ("en", ModelSize::Tiny, &both, Some("ppocrv6-tiny")),
            ("ja", ModelSize::Tiny, &both, Some("ppocrv6-small")), // only small reads Japanese
            ("japan", ModelSize::Small, &both, Some("ppocrv6-small")),
            ("ja", ModelSize::Tiny, &[PPOCRV6_TINY], None),
            ("DE", ModelSize::Small, &both, Some("ppocrv6-small")),
            ("ar", ModelSize::Small, &both, None),
            ("xx", ModelSize::Small, &both, None),
        ];
        for &(lang, size, installed, want) in cases {
            let got = select_model(lang, size, installed).ok().map(|m| m.name);
            assert_eq!(got, want, "{lang} {size:?}");
        }
    }

    #[test]
    fn latin_languages_prune_and_others_keep_every_class() {
        for (lang, want) in [
            ("en", crate::Charset::Latin),
            ("deu", crate::Charset::Latin),
            ("auto", crate::Charset::All),
            ("zh", crate::Charset::All),
            ("ja", crate::Charset::All),
        ] {
            assert_eq!(charset_for(lang), want, "{lang}");
        }
    }

    #[test]
    fn the_table_has_over_100_languages_and_plans_each() {
        let readable: Vec<_> = languages().iter().filter(|l| family_of(l.code).is_some()).collect();
        assert!(readable.len() >= 100, "{} languages", readable.len());
        for (code, want) in [
            ("en", Plan::Lines),
            ("auto", Plan::Lines),
            ("ja", Plan::Lines),
            ("ru", Plan::Tesseract("rus".into())),
            ("rus", Plan::Tesseract("rus".into())),
            ("ru+en", Plan::Tesseract("rus+eng".into())),
            ("ar", Plan::Tesseract("ara".into())),
            ("hi", Plan::Tesseract("hin".into())),
            ("de+fr", Plan::Lines),
        ] {
            assert_eq!(plan(code).unwrap(), want, "{code}");
        }
        for bad in ["xx", "auto+en", "ru+xx", ""] {
            let err = plan(bad);
            assert!(bad.is_empty() || matches!(err, Err(EngineError::UnsupportedLanguage { .. })), "{bad}: {err:?}");
        }
        assert_eq!(canonical_language("RUS+Eng"), "ru+en");
        assert_eq!(language("ru").map(|l| l.script), Some("Cyrillic"));
    }

    #[test]
    fn unsupported_language_error_lists_supported_codes() {
        let err = select_model("ar", ModelSize::Small, &[PPOCRV6_SMALL]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"ar\"") && msg.contains("en") && msg.contains("ja") && msg.contains("auto"), "{msg}");
    }
}
