//! `levers`: reads image files with one engine variant (detector / recogniser
//! model, language, detector input size) and writes
//! `OUT/<stem>.txt` plus `OUT/times.json` (in-process CPU seconds per file,
//! model loading excluded). `bench/levers.py` runs it for every variant over the
//! bench datasets and scores the outputs: which speed lever keeps accuracy.
//!
//! `levers --out DIR [--det tiny|small] [--rec tiny|small] [--language L]
//!  [--det-max-side N] [--det-max-pixels N] [--rec-batch N] [--det-tile PIXELS] [--runtime auto|rten|onnxruntime] [--threads N] [--bounded-memory] [--cascade-gate G] [--int8] FILE…`
//!
//! `--bounded-memory` runs the networks as the server does (onnxruntime
//! without per-session arenas), for peak-RSS comparisons under `/usr/bin/time`.
//! `--cascade-gate G` reads lines with tiny's recogniser and again with
//! small's where tiny's confidence is below G (`--rec` is then ignored).
//! `--int8` reads with the int8 recogniser where the model has one (small, onnxruntime).

use std::path::PathBuf;
use std::time::Instant;

use ocrchat_engine::{EngineConfig, ExportFormat, ModelSpec, OcrEngine, Runtime, export, registry};

fn spec(size: &str) -> ModelSpec {
    *ocrchat_tests::model_spec(
        ocrchat_engine::ModelSize::parse(size).unwrap_or_else(|| panic!("unknown model size {size}")),
    )
}

/// User + system CPU seconds of this process (`/proc/self/stat`, 10 ms ticks):
/// on a shared machine wall time measures the neighbours.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let t: Vec<f64> = rest.split_ascii_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    t.iter().sum::<f64>() / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut out, mut det, mut rec, mut language) = (None, "tiny".to_string(), "tiny".to_string(), "auto".to_string());
    let (mut max_side, mut max_pixels, mut files, mut bounded_memory) = (None, None, Vec::new(), false);
    let (mut cascade_gate, mut int8) = (None, false);
    let (mut runtime, mut threads, mut rec_batch, mut det_tile) = (ocrchat_tests::runtime(), 1usize, None, None);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(val())),
            "--det" => det = val(),
            "--rec" => rec = val(),
            "--language" => language = val(),
            "--det-max-side" => max_side = Some(val().parse::<u32>().expect("--det-max-side N")),
            "--det-max-pixels" => max_pixels = Some(val().parse::<u32>().expect("--det-max-pixels N")),
            "--bounded-memory" => bounded_memory = true,
            "--int8" => int8 = true,
            "--cascade-gate" => cascade_gate = Some(val().parse::<f32>().expect("--cascade-gate G")),
            "--runtime" => runtime = Runtime::parse(&val()).expect("--runtime auto|rten|onnxruntime"),
            "--threads" => threads = val().parse().expect("--threads N"),
            "--det-tile" => det_tile = Some(val().parse::<usize>().expect("--det-tile PIXELS")),
            "--rec-batch" => rec_batch = Some(val().parse::<usize>().expect("--rec-batch N")),
            _ => files.push(PathBuf::from(a)),
        }
    }
    let out = out.expect("--out DIR");
    std::fs::create_dir_all(&out).expect("create --out");
    let dir = ocrchat_tests::models_dir();
    let mut config = EngineConfig {
        charset: registry::charset_for(&language),
        runtime,
        threads,
        bounded_memory,
        int8,
        ..EngineConfig::default()
    };
    if let Some(t) = det_tile {
        config.det.tile_pixels = t;
    }
    if let Some(b) = rec_batch {
        config.rec.batch_size = b;
    }
    if let Some(m) = max_side {
        config.det.max_side = m;
    }
    if let Some(m) = max_pixels {
        config.det.max_pixels = m;
    }
    let engine: OcrEngine = if let Some(gate) = cascade_gate {
        let det = ocrchat_engine::ModelSize::parse(&det).expect("--det tiny|small");
        ocrchat_tests::cascade_engine(&dir, det, gate, config)
    } else {
        let (det_spec, rec_spec) = (spec(&det), spec(&rec));
        let dict = String::from_utf8(ocrchat_tests::model_file(&dir, &rec_spec, "dict.txt")).expect("utf-8 dictionary");
        ocrchat_engine::engine_from_bytes(
            &rec_spec,
            ocrchat_tests::model_file(&dir, &det_spec, "det.onnx"),
            &ocrchat_tests::model_file(
                &dir,
                &rec_spec,
                ocrchat_engine::recognizer_file(&rec_spec, &config).expect("runtime"),
            ),
            &dict,
            config,
        )
        .expect("models load")
    };
    let mut times = serde_json::Map::new();
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let (start, cpu0) = (Instant::now(), cpu_s());
        let text = match engine.ocr_bytes(&bytes, |_, _| {}) {
            Ok(doc) => String::from_utf8(export(&doc, ExportFormat::Txt, None).expect("txt export")).expect("utf-8"),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                String::new()
            }
        };
        let (wall, secs) = (start.elapsed().as_secs_f64(), cpu_s() - cpu0);
        eprintln!("{}: {secs:.2} s CPU, {wall:.2} s wall", file.display());
        let stem = file.file_stem().expect("file name").to_string_lossy().into_owned();
        std::fs::write(out.join(format!("{stem}.txt")), text).expect("write output");
        times.insert(stem, secs.into());
    }
    std::fs::write(out.join("times.json"), serde_json::Value::Object(times).to_string()).expect("write times");
}
