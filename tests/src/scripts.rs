//! One known sentence per script family the contract promises
//! (`tests/data/scripts.tsv`), rendered with Debian's Noto fonts by
//! `pango-view`: what the scripts and browser tests read.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{levenshtein, norm, workspace_root};

/// The acceptance bound of issue 11, per script and path.
pub const MAX_CER: f64 = 0.05;

/// A rendered sentence of one script family.
pub struct Sample {
    /// The family's name (`Cyrillic`).
    pub family: String,
    /// Its language code (`ru`).
    pub code: String,
    /// The sentence.
    pub text: String,
    /// The rendered PNG.
    pub image: PathBuf,
}

/// Scripts written without spaces between words: CER ignores whitespace.
pub fn unspaced(code: &str) -> bool {
    matches!(code, "th" | "ja" | "zh" | "zh-tw")
}

/// Character error rate of `hyp` against `gt` in `code`'s script.
pub fn cer(code: &str, hyp: &str, gt: &str) -> f64 {
    let strip = unspaced(code);
    let (h, g) = (norm(hyp, strip), norm(gt, strip));
    levenshtein(&h, &g) as f64 / g.chars().count().max(1) as f64
}

/// Renders `tests/data/scripts.tsv` into `dir`, or `None` (with a SKIP line)
/// when pango-view is missing (`scripts/install-lang-deps.sh` installs it).
pub fn render(dir: &Path) -> Option<Vec<Sample>> {
    if Command::new("pango-view").arg("--version").output().is_err() {
        eprintln!("SKIP scripts: pango-view is not installed (scripts/install-lang-deps.sh)");
        return None;
    }
    let table = std::fs::read_to_string(workspace_root().join("tests/data/scripts.tsv")).expect("scripts.tsv");
    let mut samples = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (family, code, font, text) = (f[0], f[1], f[2], f[3]);
        let image = dir.join(format!("{}.png", family.to_lowercase()));
        let out = Command::new("pango-view")
            .args(["--no-display", "--dpi", "150", "--margin", "40", "--font", font, "--text", text, "-o"])
            .arg(&image)
            .output()
            .expect("run pango-view");
        assert!(out.status.success(), "pango-view {family}: {}", String::from_utf8_lossy(&out.stderr));
        samples.push(Sample { family: family.into(), code: code.into(), text: text.into(), image });
    }
    assert!(samples.len() >= 14, "one sentence per script family");
    Some(samples)
}
