//! The wasm32 build of the engine (run by Node through wasm-bindgen, the same
//! module the browser worker loads) reads a real page exactly as native does,
//! with every class of the CTC head (`auto`) and pruned to a Latin-script
//! language's (`en`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ocrchat_engine::{Charset, EngineConfig, ModelSize};
use ocrchat_tests::{engine, model_spec, models_dir, runtime, testdata_or_skip, workspace_root};

/// The document the wasm engine under Node reads from `page`.
fn wasm_read(pkg: &Path, size: ModelSize, language: &str, page: &Path) -> ocrchat_engine::Document {
    let out = Command::new("node")
        .arg(workspace_root().join("worker/node/ocr.mjs"))
        .args(["--model", size.as_str(), "--language", language, "--format", "json"])
        .arg(page)
        .env("OCRCHAT_WASM_PKG", pkg)
        .env("OCRCHAT_MODELS_DIR", models_dir())
        .output()
        .expect("node runs (Node.js >= 18 is required)");
    assert!(out.status.success(), "wasm OCR failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("wasm returns a Document")
}

#[test]
fn wasm_engine_reads_a_page_like_native() {
    let Some(dir) = testdata_or_skip("wasm vs native") else { return };
    let page = dir.join("tess_phototest.png");
    let pkg = std::env::var_os("OCRCHAT_WASM_PKG")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/wasm-node"));
    assert!(
        pkg.join("ocrchat_worker_bg.wasm").is_file(),
        "wasm package missing in {}: build it with `make wasm` (make test does)",
        pkg.display()
    );
    let bytes = std::fs::read(&page).unwrap();
    for size in [ModelSize::Tiny, ModelSize::Small] {
        let wasm = wasm_read(&pkg, size, "auto", &page);
        let native = engine(size).ocr_bytes(&bytes, |_, _| {}).unwrap();
        assert!(!native.text().trim().is_empty());
        assert_eq!(wasm.text(), native.text(), "{} model: wasm and native text differ", size.as_str());
        assert_eq!(wasm.pages[0].blocks.len(), native.pages[0].blocks.len());
    }
    // `en`: the head pruned in wasm from the kept bytes, natively at load.
    let config = EngineConfig { runtime: runtime(), charset: Charset::Latin, ..EngineConfig::default() };
    let latin = ocrchat_engine::load_engine(&models_dir(), model_spec(ModelSize::Tiny), config).expect("models load");
    let native = latin.ocr_bytes(&bytes, |_, _| {}).unwrap();
    assert_eq!(wasm_read(&pkg, ModelSize::Tiny, "en", &page).text(), native.text(), "tiny, en: wasm and native differ");
}
