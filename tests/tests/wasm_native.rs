//! The wasm32 build of the engine (run by Node through wasm-bindgen, the same
//! module the browser worker loads) reads a real page exactly as native does.

use std::process::Command;

use ocrchat_engine::ModelSize;
use ocrchat_tests::{engine, models_dir, testdata_or_skip, workspace_root};

#[test]
fn wasm_engine_reads_a_page_like_native() {
    let Some(dir) = testdata_or_skip("wasm vs native") else { return };
    let page = dir.join("tess_phototest.png");
    let pkg = std::env::var_os("OCRCHAT_WASM_PKG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/wasm-node"));
    assert!(
        pkg.join("ocrchat_worker_bg.wasm").is_file(),
        "wasm package missing in {}: build it with `make wasm` (make test does)",
        pkg.display()
    );
    let script = workspace_root().join("worker/node/ocr.mjs");
    for size in [ModelSize::Tiny, ModelSize::Small] {
        let out = Command::new("node")
            .arg(&script)
            .args(["--model", size.as_str(), "--format", "json"])
            .arg(&page)
            .env("OCRCHAT_WASM_PKG", &pkg)
            .env("OCRCHAT_MODELS_DIR", models_dir())
            .output()
            .expect("node runs (Node.js >= 18 is required)");
        assert!(out.status.success(), "wasm OCR failed: {}", String::from_utf8_lossy(&out.stderr));
        let wasm: ocrchat_engine::Document = serde_json::from_slice(&out.stdout).expect("wasm returns a Document");
        let native = engine(size).ocr_bytes(&std::fs::read(&page).unwrap(), |_, _| {}).unwrap();
        assert!(!native.text().trim().is_empty());
        assert_eq!(wasm.text(), native.text(), "{} model: wasm and native text differ", size.as_str());
        assert_eq!(wasm.pages[0].blocks.len(), native.pages[0].blocks.len());
    }
}
