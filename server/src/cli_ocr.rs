//! `ocrchat ocr FILE… [--format F] [--model M] [--language L] [--runtime R] [--int8] [-o OUT]`.
//!
//! Exit codes: 0 all files done, 1 at least one file failed, 2 usage error
//! (clap), 3 models missing or language unsupported.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ocrchat_engine::{EngineConfig, EngineError, Engines, ExportFormat, ModelSize, Original, Runtime, export};

/// Arguments of `ocrchat ocr`.
#[derive(Args)]
pub struct OcrArgs {
    /// Input files (PNG, JPEG, WEBP, GIF, BMP, TIFF, PDF).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format (`pdf`: searchable PDF, the page images with an invisible text layer).
    #[arg(long, short, default_value = "txt", value_parser = ["txt", "md", "json", "docx", "csv", "pdf"])]
    format: String,
    /// Model size: tiny (fast) or small (accurate).
    #[arg(long, default_value = "small", value_parser = ["tiny", "small"])]
    model: String,
    /// Language code, or auto.
    #[arg(long, short, default_value = "auto")]
    language: String,
    /// Output file (one input) or directory (`<stem>.<ext>` per input). Default: stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Directory holding the models (default: ./models, or next to the checkout).
    #[arg(long, env = "OCRCHAT_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    /// OCR PDF pages even when they carry a usable text layer.
    #[arg(long)]
    force_ocr: bool,
    /// Inference runtime: auto (onnxruntime when installed, else rten), rten or onnxruntime.
    #[arg(long, env = "OCRCHAT_RUNTIME", default_value = "auto", value_parser = ["auto", "rten", "onnxruntime"])]
    runtime: String,
    /// onnxruntime intra-op threads (0: one per core; rten reads RTEN_NUM_THREADS).
    #[arg(long, env = "OCRCHAT_THREADS", default_value_t = 0)]
    threads: usize,
    /// small on onnxruntime: read lines with the int8 recogniser `make models` makes (faster; a few
    /// characters in a thousand may differ).
    #[arg(long, env = "OCRCHAT_INT8")]
    int8: bool,
}

fn out_path(output: &Path, input: &Path, ext: &str, many: bool) -> PathBuf {
    if many || output.is_dir() || output.as_os_str().to_string_lossy().ends_with('/') {
        let stem = input.file_stem().map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
        output.join(format!("{stem}.{ext}"))
    } else {
        output.to_path_buf()
    }
}

pub fn run(args: OcrArgs) -> ExitCode {
    let format = ExportFormat::parse(&args.format).expect("clap validated the format");
    let size = ModelSize::parse(&args.model).expect("clap validated the model");
    let dir = ocrchat::paths::find_models_dir(args.models_dir.as_deref());
    // The server's malloc settings and memory mode (the detector gives its
    // activations back after each strip, mapped and unmapped, instead of an
    // arena that grows by powers of two). Measured on the A4 page, one thread:
    // small 393 → 275 MiB peak RSS, tiny 266 → 213 MiB, same text, CPU no higher.
    ocrchat::alloc::tune(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let config = EngineConfig {
        bounded_memory: true,
        force_ocr: args.force_ocr,
        runtime: Runtime::parse(&args.runtime).expect("clap validated the runtime"),
        threads: args.threads,
        int8: args.int8,
        ..EngineConfig::default()
    };
    let engine = Engines::new(&dir, size, config).for_language(&args.language);
    let engine = match engine {
        Ok(e) => e,
        Err(EngineError::ModelsMissing { .. }) => {
            eprintln!(
                "error: OCR models not found in {}; fetch them with `make models` (or scripts/fetch-models.sh), \
                 or point --models-dir / OCRCHAT_MODELS_DIR at them",
                dir.display()
            );
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("error: {}", e.detail());
            return ExitCode::from(3);
        }
    };
    let many = args.files.len() > 1;
    if let Some(out) = &args.output
        && many
        && let Err(e) = std::fs::create_dir_all(out)
    {
        eprintln!("error: cannot create output directory {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} pages {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut failed = 0usize;
    for file in &args.files {
        bar.set_message(file.display().to_string());
        let result = (|| -> Result<()> {
            let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let doc = engine.ocr_bytes(&bytes, |done, total| {
                // The page count is known once the file is open: add it at the first page.
                if done == 1 {
                    bar.inc_length(total as u64);
                }
                bar.inc(1);
            })?;
            let start = std::time::Instant::now();
            let rendered = export(&doc, format, Some(Original::new(&bytes, engine.config().limits)))?;
            tracing::debug!(ms = start.elapsed().as_secs_f64() * 1e3, "stage: export");
            match &args.output {
                Some(out) => {
                    let path = out_path(out, file, format.extension(), many);
                    std::fs::write(&path, &rendered).with_context(|| format!("cannot write {}", path.display()))?;
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    if many {
                        writeln!(stdout, "==> {} <==", file.display())?;
                    }
                    stdout.write_all(&rendered)?;
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            failed += 1;
            bar.suspend(|| eprintln!("error: {}: {e:#}", file.display()));
        }
    }
    bar.finish_and_clear();
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
