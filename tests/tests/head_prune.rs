//! CTC head pruning on the real models: a Latin-script language loads the
//! recogniser with its head sliced to the classes below U+3000, and the text
//! of real English pages is the same as with every class — except that the
//! full head sometimes picks a fullwidth form (`，` `：` `（`, U+FF01–FF5E) where
//! the pruned one reads the ASCII character, which is the same under NFKC
//! (as `score.py` compares) and the better reading for a Latin page.

use ocrchat_engine::{Charset, EngineConfig, ModelEngines, ModelSize, registry};
use ocrchat_tests::{model_file, model_spec, models_dir, testdata_or_skip};

fn read_with(size: ModelSize, charset: Charset, pages: &[std::path::PathBuf]) -> Vec<String> {
    let config = EngineConfig { charset, ..EngineConfig::default() };
    let engine = ocrchat_engine::load_engine(&models_dir(), model_spec(size), config).expect("models load");
    pages
        .iter()
        .map(|p| engine.ocr_bytes(&std::fs::read(p).unwrap(), |_, _| {}).expect("OCR succeeds").text())
        .collect()
}

/// Fullwidth ASCII forms mapped to ASCII (their NFKC decomposition).
fn narrow(s: &str) -> String {
    s.chars()
        .map(|c| if ('\u{ff01}'..='\u{ff5e}').contains(&c) { char::from_u32(c as u32 - 0xfee0).unwrap() } else { c })
        .collect()
}

#[test]
fn pruned_head_reads_latin_pages_identically() {
    let Some(dir) = testdata_or_skip("pruned_head_reads_latin_pages_identically") else { return };
    let pages: Vec<_> =
        ["tess_phototest.png", "tess_eurotext.png", "sroie_150.jpg"].iter().map(|f| dir.join(f)).collect();
    for size in [ModelSize::Tiny, ModelSize::Small] {
        let full = read_with(size, Charset::All, &pages);
        let pruned = read_with(size, registry::charset_for("en"), &pages);
        for ((page, a), b) in pages.iter().zip(&full).zip(&pruned) {
            assert!(!a.trim().is_empty(), "{size:?} read nothing on {}", page.display());
            assert!(!b.chars().any(|c| ('\u{ff01}'..='\u{ff5e}').contains(&c)), "pruned head kept a fullwidth form");
            assert_eq!(narrow(a), *b, "{size:?} {}: pruned head changed the text", page.display());
        }
    }
}

#[test]
fn auto_keeps_chinese() {
    let Some(dir) = testdata_or_skip("auto_keeps_chinese") else { return };
    let text = read_with(ModelSize::Tiny, registry::charset_for("auto"), &[dir.join("tjs_chinese.png")]).remove(0);
    assert!(text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "no CJK read: {text}");
}

/// The browser worker's models arrive as bytes: `ModelEngines` gives a
/// Latin-script language the pruned head once prepared (the detector
/// shared), `auto` every class, and the pruned engine reads exactly what an
/// engine loaded with the pruned head reads.
#[test]
fn engines_from_bytes_prune_the_head_by_language() {
    let Some(dir) = testdata_or_skip("engines_from_bytes_prune_the_head_by_language") else { return };
    let pages = [dir.join("tess_eurotext.png"), dir.join("sroie_150.jpg")];
    let (models, spec) = (models_dir(), model_spec(ModelSize::Tiny));
    let dict = String::from_utf8(model_file(&models, spec, "dict.txt")).unwrap();
    let (det, rec) = (model_file(&models, spec, "det.onnx"), model_file(&models, spec, "rec.onnx"));
    let mut engines = ModelEngines::from_bytes(spec, det, rec, &dict, EngineConfig::default()).expect("models load");
    assert_eq!(engines.size(), ModelSize::Tiny);
    assert_eq!(engines.plan("en").expect("tiny reads en"), registry::Plan::Lines);
    let japanese = engines.plan("ja").expect_err("tiny has no Japanese (small has)");
    assert!(japanese.to_string().contains("ja"), "{japanese}");
    assert_eq!(engines.engine("en").config().charset, Charset::All, "nothing pruned before prepare");
    engines.prepare("en").expect("the pruned recogniser loads");
    engines.prepare("de").expect("a second Latin-script language uses the same pruned head");
    assert_eq!(engines.engine("en").config().charset, Charset::Latin);
    assert_eq!(engines.engine("de").config().charset, Charset::Latin);
    assert_eq!(engines.engine("auto").config().charset, Charset::All);
    let read = |language: &str| -> Vec<String> {
        let engine = engines.engine(language);
        pages.iter().map(|p| engine.ocr_bytes(&std::fs::read(p).unwrap(), |_, _| {}).unwrap().text()).collect()
    };
    assert_eq!(read("en"), read_with(ModelSize::Tiny, Charset::Latin, &pages), "pruned from bytes == loaded pruned");
    assert_eq!(read("auto"), read_with(ModelSize::Tiny, Charset::All, &pages), "auto keeps every class");
}
