//! Which model serves which language. A language no installed model serves is
//! an error that lists what is supported — never silently garbled text.

use crate::ModelSize;
use crate::error::{EngineError, Result};

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
pub const PPOCRV6_SMALL: ModelSpec =
    ModelSpec { name: "ppocrv6-small", family: "pp-ocrv6", size: ModelSize::Small, languages: &SMALL_LANGS };
/// PP-OCRv6 tiny: as small without Japanese.
pub const PPOCRV6_TINY: ModelSpec =
    ModelSpec { name: "ppocrv6-tiny", family: "pp-ocrv6", size: ModelSize::Tiny, languages: &TINY_LANGS };

/// Every model the engine can run, preferred first.
pub const CATALOG: &[ModelSpec] = &[PPOCRV6_SMALL, PPOCRV6_TINY];

/// Maps the codes people use (ISO 639-1/2, PaddleOCR and Tesseract names) to
/// our canonical code. `auto` stays `auto`.
pub fn canonical_language(code: &str) -> String {
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
    fn unsupported_language_error_lists_supported_codes() {
        let err = select_model("ar", ModelSize::Small, &[PPOCRV6_SMALL]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"ar\"") && msg.contains("en") && msg.contains("ja") && msg.contains("auto"), "{msg}");
    }
}
