//! Helpers shared by the cross-crate tests in `tests/tests/`: where the shared
//! test data and the models are, one engine per model size, and the scoring
//! metrics of `shared/tools/score.py` (normalised CER, bag-of-words F1).

pub mod pdfgen;
pub mod postgres;
pub mod qa;
pub mod scripts;
pub mod server;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ocrchat_engine::{EngineConfig, ModelSize, OcrEngine, Runtime, registry};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

/// The built web app (`make web` → `dist/`); `OCRCHAT_TEST_WEB_DIR`: an
/// unoptimised build while developing (wasm-opt takes minutes).
pub fn web_dir() -> PathBuf {
    let dir =
        std::env::var_os("OCRCHAT_TEST_WEB_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        dir.join("index.html").is_file(),
        "{} missing: build the app with `make web` (make test does)",
        dir.display()
    );
    dir
}

/// `../shared/testdata` beside the checkout (or `OCRCHAT_SHARED_DIR/testdata`),
/// if present. A user's fresh clone has none: callers skip loudly.
pub fn testdata_dir() -> Option<PathBuf> {
    let shared =
        std::env::var_os("OCRCHAT_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("../shared"));
    let dir = shared.join("testdata");
    dir.join("manifest.tsv").is_file().then_some(dir)
}

/// Returns the testdata dir, or prints a visible SKIP line and returns `None`.
pub fn testdata_or_skip(test: &str) -> Option<PathBuf> {
    let dir = testdata_dir();
    if dir.is_none() {
        eprintln!("SKIP {test}: ../shared/testdata is not present (it is only beside the project's own checkouts)");
    }
    dir
}

/// The models directory (`OCRCHAT_MODELS_DIR` or `models/`). Panics with the
/// command that fetches them when missing: every test needs real models.
pub fn models_dir() -> PathBuf {
    let dir =
        std::env::var_os("OCRCHAT_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("models"));
    assert!(dir.join("manifest.json").is_file(), "models missing in {}: run `make models` first", dir.display());
    dir
}

/// The runtime the tests run the models on: `OCRCHAT_RUNTIME` (auto, rten,
/// onnxruntime) as for the CLI and server; default auto (onnxruntime when
/// `make test` installed it).
pub fn runtime() -> Runtime {
    let name = std::env::var("OCRCHAT_RUNTIME").unwrap_or_default();
    if name.is_empty() {
        Runtime::Auto
    } else {
        Runtime::parse(&name).expect("OCRCHAT_RUNTIME: auto, rten or onnxruntime")
    }
}

/// A shared engine per model size (loading costs ~0.5 s), on [`runtime`].
pub fn engine(size: ModelSize) -> &'static OcrEngine {
    static SMALL: OnceLock<OcrEngine> = OnceLock::new();
    static TINY: OnceLock<OcrEngine> = OnceLock::new();
    let cell = if size == ModelSize::Small { &SMALL } else { &TINY };
    cell.get_or_init(|| {
        let dir = models_dir();
        let config = EngineConfig { runtime: runtime(), ..EngineConfig::default() };
        ocrchat_engine::load_engine(&dir, model_spec(size), config).expect("models load")
    })
}

/// The catalog entry of a model size.
pub fn model_spec(size: ModelSize) -> &'static ocrchat_engine::ModelSpec {
    registry::CATALOG.iter().find(|m| m.size == size).expect("size in catalog")
}

/// The bytes of one of `spec`'s files under `dir` (`det.onnx`, `rec.onnx`, `dict.txt`).
pub fn model_file(dir: &Path, spec: &ocrchat_engine::ModelSpec, file: &str) -> Vec<u8> {
    let path = dir.join(spec.name).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An engine with `det`'s detector whose lines tiny's recogniser reads and
/// small's reads again where tiny's confidence is below `gate`
/// ([`ocrchat_engine::CascadeRecognizer`]), loaded from `dir`.
pub fn cascade_engine(dir: &Path, det: ModelSize, gate: f32, config: EngineConfig) -> OcrEngine {
    let config = EngineConfig { runtime: config.runtime.resolve().expect("runtime"), ..config };
    let rec = |size| {
        let spec = model_spec(size);
        let dict = String::from_utf8(model_file(dir, spec, "dict.txt")).expect("utf-8 dictionary");
        ocrchat_engine::recognizer_from_bytes(spec, &model_file(dir, spec, "rec.onnx"), &dict, &config)
            .expect("recogniser loads")
    };
    let cascade = ocrchat_engine::CascadeRecognizer::new(rec(ModelSize::Tiny), rec(ModelSize::Small), gate);
    let spec = model_spec(det);
    let detector =
        ocrchat_engine::detector_from_bytes(spec, model_file(dir, spec, "det.onnx"), &config).expect("detector loads");
    OcrEngine::new(detector, Box::new(cascade), config)
}

/// NFKC-less normalisation as in score.py (case-folded, whitespace collapsed
/// or removed for CJK).
pub fn norm(s: &str, strip_ws: bool) -> String {
    let lower = s.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    if strip_ws { words.concat() } else { words.join(" ") }
}

/// Levenshtein distance over chars.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + usize::from(ca != cb));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn is_cjk(s: &str) -> bool {
    s.chars().any(|c| matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x9FFF))
}

/// Character error rate of `hyp` against `gt`, as score.py computes it.
pub fn cer(hyp: &str, gt: &str) -> f64 {
    let cjk = is_cjk(gt);
    let (h, g) = (norm(hyp, cjk), norm(gt, cjk));
    levenshtein(&h, &g) as f64 / g.chars().count().max(1) as f64
}

/// Order-free bag-of-words F1.
pub fn bow_f1(hyp: &str, gt: &str) -> f64 {
    use std::collections::HashMap;
    let count = |s: &str| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for w in norm(s, false).split_whitespace() {
            *m.entry(w.to_string()).or_default() += 1;
        }
        m
    };
    let (h, g) = (count(hyp), count(gt));
    let tp: usize = h.iter().map(|(w, n)| (*n).min(*g.get(w).unwrap_or(&0))).sum();
    let (nh, ng): (usize, usize) = (h.values().sum(), g.values().sum());
    if ng == 0 {
        return if nh == 0 { 1.0 } else { 0.0 };
    }
    let (p, r) = (tp as f64 / nh.max(1) as f64, tp as f64 / ng as f64);
    if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
}

/// The checkout a benchmark ran on, for its section header: `commit abc1234`
/// (with ` (modified)` when tracked files differ), or "not a git checkout".
pub fn commit() -> String {
    let out =
        std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).current_dir(workspace_root()).output();
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(workspace_root())
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    match out {
        Ok(o) if o.status.success() => {
            format!("commit {}{}", String::from_utf8_lossy(&o.stdout).trim(), if dirty { " (modified)" } else { "" })
        }
        _ => "not a git checkout".into(),
    }
}

/// The 1/5/15-minute load averages (`/proc/loadavg`), empty where there is none:
/// benchmarks print them so a contended run reads as one.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Now, as a section header says it (`2026-12-01 04:30 UTC`).
pub fn utc_now() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_score_py_definitions() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert!((cer("Hello  World", "hello world") - 0.0).abs() < 1e-9);
        assert!((cer("helo world", "hello world") - 1.0 / 11.0).abs() < 1e-9);
        assert!((cer("你好 世界", "你好世界")).abs() < 1e-9);
        assert!((bow_f1("a b c", "a b d") - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(bow_f1("", ""), 1.0);
    }
}
