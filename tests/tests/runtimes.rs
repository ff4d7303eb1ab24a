//! The two native runtimes on real pages: onnxruntime (the native default
//! when installed) must read exactly what rten reads — same graphs, same
//! pruned head, same pre- and post-processing — on printed pages and a
//! receipt, for both model sizes; the small model's int8 recogniser reads
//! nearly what float reads; and asking for onnxruntime where its library is
//! missing is a clear error, never a silent switch.
//!
//! `make test` installs the library (scripts/fetch-onnxruntime.sh) and sets
//! `OCRCHAT_REQUIRE_ONNXRUNTIME=1`; a bare `cargo test` without it prints
//! `SKIP`.

use ocrchat_engine::{EngineConfig, EngineError, ModelSize, Runtime, registry};
use ocrchat_tests::{model_spec, models_dir, testdata_or_skip};

fn onnxruntime_or_skip(test: &str) -> bool {
    let installed = ocrchat_engine::onnxruntime_library_path().is_some_and(|p| p.is_file());
    if !installed {
        assert!(
            std::env::var_os("OCRCHAT_REQUIRE_ONNXRUNTIME").is_none(),
            "onnxruntime library missing at {:?}: run scripts/fetch-onnxruntime.sh",
            ocrchat_engine::onnxruntime_library_path()
        );
        eprintln!("SKIP {test}: onnxruntime not installed (scripts/fetch-onnxruntime.sh)");
    }
    installed
}

fn read_with(size: ModelSize, runtime: Runtime, pages: &[std::path::PathBuf]) -> Vec<String> {
    read_with_config(size, EngineConfig { runtime, ..EngineConfig::default() }, pages)
}

fn read_with_config(size: ModelSize, config: EngineConfig, pages: &[std::path::PathBuf]) -> Vec<String> {
    read_documents(size, config, pages).iter().map(|d| d.text()).collect()
}

fn read_documents(
    size: ModelSize,
    config: EngineConfig,
    pages: &[std::path::PathBuf],
) -> Vec<ocrchat_engine::Document> {
    let runtime = config.runtime;
    let config = EngineConfig { charset: registry::charset_for("en"), threads: 1, ..config };
    let engine = ocrchat_engine::load_engine(&models_dir(), model_spec(size), config).expect("models load");
    assert_eq!(engine.config().runtime, runtime);
    pages.iter().map(|p| engine.ocr_bytes(&std::fs::read(p).unwrap(), |_, _| {}).expect("OCR succeeds")).collect()
}

#[test]
fn onnxruntime_reads_what_rten_reads() {
    let Some(dir) = testdata_or_skip("onnxruntime_reads_what_rten_reads") else { return };
    if !onnxruntime_or_skip("onnxruntime_reads_what_rten_reads") {
        return;
    }
    let pages: Vec<_> =
        ["tess_phototest.png", "tess_eurotext.png", "sroie_150.jpg"].iter().map(|f| dir.join(f)).collect();
    for size in [ModelSize::Tiny, ModelSize::Small] {
        let rten = read_with(size, Runtime::Rten, &pages);
        let ort = read_with(size, Runtime::OnnxRuntime, &pages);
        for ((page, a), b) in pages.iter().zip(&rten).zip(&ort) {
            assert!(a.split_whitespace().count() > 20, "{size:?} read almost nothing on {}: {a}", page.display());
            assert_eq!(a, b, "{size:?} {}: onnxruntime and rten read differently", page.display());
        }
    }
}

/// The small model's int8 recogniser (`make models`: scripts/quantize-models.sh) on
/// onnxruntime: a page's text within 1% of characters of the float recogniser's,
/// and no further from the ground truth than float's plus 0.01 CER. It must be a
/// different network (not the float one read again): its confidences differ.
#[test]
fn int8_recogniser_reads_nearly_what_float_reads() {
    let test = "int8_recogniser_reads_nearly_what_float_reads";
    let Some(dir) = testdata_or_skip(test) else { return };
    if !onnxruntime_or_skip(test) {
        return;
    }
    let spec = model_spec(ModelSize::Small);
    let config = EngineConfig { runtime: Runtime::OnnxRuntime, int8: true, ..EngineConfig::default() };
    let file = ocrchat_engine::recognizer_file(spec, &config).expect("runtime");
    assert_eq!(file, ocrchat_engine::INT8_REC_FILE);
    if !models_dir().join(spec.name).join(file).is_file() {
        assert!(std::env::var_os("OCRCHAT_REQUIRE_ONNXRUNTIME").is_none(), "{file} missing: run make models");
        eprintln!("SKIP {test}: {file} not made (scripts/quantize-models.sh)");
        return;
    }
    let stems = ["tess_phototest", "tess_eurotext", "sroie_150"];
    let pages: Vec<_> = stems
        .iter()
        .map(|s| dir.join(if s.starts_with("sroie") { format!("{s}.jpg") } else { format!("{s}.png") }))
        .collect();
    let float_docs = read_documents(ModelSize::Small, EngineConfig { int8: false, ..config }, &pages);
    let int8_docs = read_documents(ModelSize::Small, config, &pages);
    let confidences = |docs: &[ocrchat_engine::Document]| -> Vec<f32> {
        docs.iter()
            .flat_map(|d| &d.pages)
            .flat_map(|p| &p.blocks)
            .flat_map(|b| &b.lines)
            .map(|l| l.confidence)
            .collect()
    };
    assert_ne!(confidences(&float_docs), confidences(&int8_docs), "int8 read exactly as float: was it loaded?");
    let float: Vec<String> = float_docs.iter().map(|d| d.text()).collect();
    let int8: Vec<String> = int8_docs.iter().map(|d| d.text()).collect();
    for ((stem, f), q) in stems.iter().zip(&float).zip(&int8) {
        let truth = std::fs::read_to_string(dir.join(format!("{stem}.txt"))).unwrap();
        let apart = ocrchat_tests::levenshtein(f, q) as f64 / f.chars().count().max(1) as f64;
        assert!(apart <= 0.01, "{stem}: int8 and float differ in {:.1}% of characters:\n{f}\n---\n{q}", apart * 100.0);
        let (cer_f, cer_q) = (ocrchat_tests::cer(f, &truth), ocrchat_tests::cer(q, &truth));
        assert!(cer_q <= cer_f + 0.01, "{stem}: int8 CER {cer_q:.4} vs float {cer_f:.4}");
    }
}

/// Where there is no int8 recogniser to use, the float one is read: rten (it runs
/// quantised graphs in float, slower than the float graph), the tiny model, or int8 off.
#[test]
fn int8_applies_to_small_on_onnxruntime_only() {
    use ocrchat_engine::recognizer_file;
    let small = model_spec(ModelSize::Small);
    let tiny = model_spec(ModelSize::Tiny);
    let int8 = |runtime| EngineConfig { runtime, int8: true, ..EngineConfig::default() };
    assert_eq!(recognizer_file(small, &int8(Runtime::Rten)).unwrap(), "rec.onnx");
    assert_eq!(recognizer_file(tiny, &int8(Runtime::Rten)).unwrap(), "rec.onnx");
    assert_eq!(
        recognizer_file(small, &EngineConfig { runtime: Runtime::Rten, ..EngineConfig::default() }).unwrap(),
        "rec.onnx"
    );
    if onnxruntime_or_skip("int8_applies_to_small_on_onnxruntime_only") {
        assert_eq!(recognizer_file(small, &int8(Runtime::OnnxRuntime)).unwrap(), ocrchat_engine::INT8_REC_FILE);
        assert_eq!(recognizer_file(tiny, &int8(Runtime::OnnxRuntime)).unwrap(), "rec.onnx");
        let off = EngineConfig { runtime: Runtime::OnnxRuntime, ..EngineConfig::default() };
        assert_eq!(recognizer_file(small, &off).unwrap(), "rec.onnx");
    }
}

#[test]
fn missing_onnxruntime_library_is_a_clear_error() {
    // A path that cannot exist: the process-wide library is only looked up once, so this
    // test runs the lookup in a child process with the variable set.
    if std::env::var_os("OCRCHAT_RUNTIMES_CHILD").is_some() {
        let spec = model_spec(ModelSize::Tiny);
        let strict = EngineConfig { runtime: Runtime::OnnxRuntime, ..EngineConfig::default() };
        match ocrchat_engine::load_engine(&models_dir(), spec, strict) {
            Err(EngineError::RuntimeUnavailable { runtime: "onnxruntime", .. }) => {}
            Err(e) => panic!("wrong error: {}", e.detail()),
            Ok(_) => panic!("onnxruntime loaded from a missing file"),
        }
        // `auto` falls back to rten and still reads.
        let engine = ocrchat_engine::load_engine(&models_dir(), spec, EngineConfig::default()).expect("rten fallback");
        assert_eq!(engine.config().runtime, Runtime::Rten);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "missing_onnxruntime_library_is_a_clear_error", "--nocapture"])
        .env("OCRCHAT_RUNTIMES_CHILD", "1")
        .env("OCRCHAT_ONNXRUNTIME_LIB", "/nonexistent/libonnxruntime.so")
        .output()
        .expect("child test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("1 passed"), "child failed:\n{stdout}\n{}", {
        String::from_utf8_lossy(&out.stderr)
    });
}

#[test]
fn concurrent_pages_share_one_onnxruntime_engine() {
    let Some(dir) = testdata_or_skip("concurrent_pages_share_one_onnxruntime_engine") else { return };
    if !onnxruntime_or_skip("concurrent_pages_share_one_onnxruntime_engine") {
        return;
    }
    let pages: Vec<Vec<u8>> = ["tess_phototest.png", "tess_eurotext.png", "sroie_150.jpg", "tess_phototest.png"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    // One session per graph (callers take turns), two (each caller its own; four callers, so two
    // wait), and the server's memory mode (two recogniser sessions, one arena-less detector session
    // on both threads): same text as one caller reading the pages in order.
    for (sessions, bounded_memory) in [(1, false), (2, false), (2, true)] {
        let config = EngineConfig {
            runtime: Runtime::OnnxRuntime,
            threads: 1,
            sessions,
            bounded_memory,
            ..EngineConfig::default()
        };
        let engine =
            ocrchat_engine::load_engine(&models_dir(), model_spec(ModelSize::Tiny), config).expect("models load");
        let read = |b: &Vec<u8>| engine.ocr_bytes(b, |_, _| {}).expect("OCR succeeds").text();
        let sequential: Vec<String> = pages.iter().map(read).collect();
        let concurrent: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = pages.iter().map(|b| s.spawn(move || read(b))).collect();
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        });
        assert_eq!(sequential, concurrent, "sessions = {sessions}, bounded memory: {bounded_memory}");
        assert_eq!(sequential[0], sequential[3]);
    }
}
