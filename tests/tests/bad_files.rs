//! Hostile inputs from `shared/testdata/bad/`: every one gets a typed error
//! (no panic), within bounded memory. Kept in its own test binary so the peak
//! RSS measured here is this test's alone.

use ocrchat_engine::{EngineError, ModelSize, decode};
use ocrchat_tests::{engine, testdata_or_skip};

fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

#[test]
fn hostile_files_give_typed_errors_in_bounded_memory() {
    let Some(dir) = testdata_or_skip("bad files") else { return };
    let engine = engine(ModelSize::Tiny);
    let baseline = peak_rss_mb();
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("bad")).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "manifest.tsv" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let is_pdf = matches!(decode::sniff(&bytes), Ok(decode::InputFormat::Pdf));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.ocr_bytes(&bytes, |_, _| {})));
        let result = result.unwrap_or_else(|_| panic!("{name}: the engine panicked"));
        if is_pdf {
            // PDF input is handled by the PDF pipeline; the image path must refuse it cleanly.
            assert!(matches!(result, Err(EngineError::UnsupportedFormat(_))), "{name}: {result:?}");
            continue;
        }
        seen += 1;
        let err = result.err().unwrap_or_else(|| panic!("{name}: hostile image decoded without error"));
        assert!(err.is_client_error(), "{name}: {err:?} should be the caller's error");
        let expected = match name.as_str() {
            "zero_bytes.tif" => matches!(err, EngineError::Empty),
            "decompression_bomb.gif" => matches!(err, EngineError::TooLarge { .. }),
            _ => matches!(err, EngineError::Decode { .. } | EngineError::UnsupportedFormat(_)),
        };
        assert!(expected, "{name}: unexpected error kind {err:?}");
        eprintln!("bad file {name}: {err}");
    }
    assert!(seen >= 5, "expected the image files of bad/ (found {seen})");
    if let (Some(before), Some(after)) = (baseline, peak_rss_mb()) {
        eprintln!("peak RSS {before} MB before, {after} MB after the hostile files");
        assert!(after < before + 200, "hostile files raised peak RSS from {before} to {after} MB");
    }
}
