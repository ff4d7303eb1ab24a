//! Language codes the API accepts: the cpu tier serves what its installed
//! models read; the vlm tier reads any language, so any ISO 639-1 code.

use ocrchat_engine::registry;

/// ISO 639-1 codes (plus the regional variants the engine knows).
const ISO_639_1: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi", "bm", "bn",
    "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv", "dz", "ee", "el", "en",
    "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he",
    "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv",
    "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li",
    "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne",
    "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm",
    "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "ss", "st",
    "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk",
    "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu", "zh-tw", "sr-latn",
];

/// Is `code` (already canonical) a language the vlm tier accepts?
pub fn vlm_accepts(code: &str) -> bool {
    code == "auto" || ISO_639_1.contains(&code)
}

/// Canonical form of a request's `language` (`ch` → `zh`, `""` → `auto`).
pub fn canonical(code: &str) -> String {
    registry::canonical_language(code)
}

/// Every code the vlm tier accepts, sorted.
pub fn vlm_languages() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = ISO_639_1.to_vec();
    all.sort_unstable();
    all
}
