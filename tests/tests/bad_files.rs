//! Hostile inputs from `shared/testdata/bad/`: every one gets a typed error
//! (no panic), within bounded memory. Kept in its own test binary so the peak
//! RSS measured here is this test's alone.

use ocrchat_engine::{DecodeLimits, EngineError, InputFormat, ModelSize, Source, sniff};
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
        let is_pdf = matches!(sniff(&bytes), Ok(InputFormat::Pdf));
        if is_pdf {
            // Open first (page count known before any work), then read at most
            // two pages so the 352-page book stays a quick test.
            let limits = DecodeLimits { max_pages: 400, ..Default::default() };
            let opened = std::panic::catch_unwind(|| Source::open(&bytes, limits))
                .unwrap_or_else(|_| panic!("{name}: panicked"));
            let outcome = opened.and_then(|source| {
                let pages = source.page_count();
                assert!(pages >= 1);
                if name == "freeculture_352pages.pdf" {
                    assert_eq!(pages, 352);
                    assert!(matches!(
                        Source::open(&bytes, DecodeLimits { max_pages: 50, ..Default::default() }),
                        Err(EngineError::TooManyPages { limit: 50 })
                    ));
                }
                (0..pages.min(2)).try_for_each(|i| source.page(i).map(|_| ()))
            });
            let ok = match name.as_str() {
                "invalid.pdf" => matches!(outcome, Err(EngineError::Decode { .. })),
                "encrypted_userpw_abc.pdf" => matches!(outcome, Err(EngineError::PasswordProtected)),
                "hugemono.pdf" => matches!(outcome, Err(EngineError::TooLarge { .. })),
                // recoverable or valid files: rendered within the pixel bound
                _ => outcome.is_ok() || outcome.as_ref().is_err_and(|e| e.is_client_error()),
            };
            assert!(ok, "{name}: unexpected outcome {outcome:?}");
            eprintln!("bad file {name}: {outcome:?}");
            continue;
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.ocr_bytes(&bytes, |_, _| {})));
        let result = result.unwrap_or_else(|_| panic!("{name}: the engine panicked"));
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
        // The 30-inch page renders at the 50 MP bound (RGBA + RGB ≈ 350 MB).
        assert!(after < before + 600, "hostile files raised peak RSS from {before} to {after} MB");
    }
}
