//! `poolbench`: the server throughput benchmark of `make bench` (`bash bench/run.sh pool`).
//!
//! One 20-page scanned PDF (the printed page scans of the test data in turn, one grey JPEG per
//! page, no text layer) through a real `ocrchat serve`, once per setting: one core (`taskset -c 0`,
//! `OCRCHAT_WORKERS=1`) and two cores (`taskset -c 0,1`, `OCRCHAT_WORKERS=2`); with `--before
//! BIN` the same two runs of another build (e.g. main's) as a baseline. Each run is a fresh
//! server on a fresh data directory: a one-page image is read first (models loaded), then the
//! PDF is submitted and polled every 100 ms until done. Measured: wall time submission → done,
//! pages/s, the server's CPU seconds over that time, peak RSS (`VmHWM` of the whole life, from
//! `/proc/<pid>/status`), peak thread count and the inference pool's threads (`ocrchat-page-N`),
//! the runtime that ran the models (onnxruntime when its library is mapped), and the CER of the
//! result against the pages' ground truth (the text must not change with the pool).
//!
//! Writes the `## Server throughput` section to `--markdown FILE` (bench/run.sh puts it in
//! bench/results.md). A benchmark, never a test: the targets (2 cores ≥ 1.8x the pages/s of one,
//! peak RSS ≤ 400 MB) are reported as PASS/MISS, and only a failed run exits 1. Loopback only.
//! Skips (exit 0) without `../shared/testdata` or without `taskset`.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its report

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocrchat_tests::pdfgen::scanned_jpeg_pdf;
use ocrchat_tests::server::{TempDir, listening_address};
use ocrchat_tests::{cer, commit, loadavg, models_dir, norm, testdata_dir, utc_now, workspace_root};
use reqwest::blocking::{Client, multipart};
use serde_json::Value;

/// Printed page scans of the test data; the PDF's pages cycle through them (as bench/pdf_bench.py's).
const SCAN_PAGES: [&str; 4] =
    ["tess_8071_093.3B.png", "tess_8087_054.3B.png", "tess_eurotext.png", "tess_phototest.png"];
/// Peak RSS target of issue 12 (bytes).
const RSS_TARGET: u64 = 400_000_000;
/// Throughput target: two cores over one.
const RATIO_TARGET: f64 = 1.8;

/// Command-line settings.
struct Args {
    pages: usize,
    /// Model sizes to run (`OCRCHAT_MODEL`); empty: the server's default.
    models: Vec<String>,
    before: Option<PathBuf>,
    markdown: Option<PathBuf>,
    env: Vec<(String, String)>,
    workers: Vec<usize>,
    quiet_wait: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        pages: 20,
        models: Vec::new(),
        before: None,
        markdown: None,
        env: Vec::new(),
        workers: vec![1, 2],
        quiet_wait: Duration::from_secs(300),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--pages" => args.pages = value()?.parse().map_err(|e| format!("--pages: {e}"))?,
            // One or more, comma-separated: `--model small,tiny`; `small-int8` adds `OCRCHAT_INT8=true`.
            "--model" => args.models = value()?.split(',').map(|m| m.trim().to_string()).collect(),
            "--before" => args.before = Some(PathBuf::from(value()?)),
            "--markdown" => args.markdown = Some(PathBuf::from(value()?)),
            // Extra server environment for experiments (e.g. MALLOC_ARENA_MAX=8), stated in the report.
            "--env" => {
                let kv = value()?;
                let (k, v) = kv.split_once('=').ok_or("--env takes KEY=VALUE")?;
                args.env.push((k.into(), v.into()));
            }
            // Which settings to run: 1 (one core), 2 (two cores) or both (the default, `1,2`).
            "--workers" => {
                args.workers = value()?
                    .split(',')
                    .map(|w| w.trim().parse::<usize>().ok().filter(|w| (1..=2).contains(w)))
                    .collect::<Option<_>>()
                    .ok_or("--workers takes 1, 2 or 1,2")?;
            }
            "--quiet-wait-secs" => {
                args.quiet_wait = Duration::from_secs(value()?.parse().map_err(|e| format!("--quiet-wait-secs: {e}"))?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// One measured run.
struct Run {
    build: &'static str,
    model: String,
    cpus: &'static str,
    workers: usize,
    wall: Duration,
    cpu_s: f64,
    peak_rss_kib: u64,
    threads: u64,
    pool_threads: usize,
    runtime: String,
    cer: f64,
    pages: usize,
    /// CPU seconds other processes used during the run (the machine may be shared).
    others_cpu_s: f64,
}

impl Run {
    fn pages_per_s(&self) -> f64 {
        self.pages as f64 / self.wall.as_secs_f64()
    }
}

/// A server process, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(bin: &Path, cpus: &str, data_dir: &Path, env: &[(String, String)]) -> Result<Server, String> {
    let log = data_dir.join("server.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    // taskset execs the server: the child's pid is the server's.
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", cpus])
        .arg(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--models-dir")
        .arg(models_dir())
        .env("OCRCHAT_LOG", "warn")
        .current_dir(data_dir)
        .stdout(Stdio::piped())
        .stderr(log_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let base = listening_address(&mut child, Duration::from_secs(120));
    let mut server = Server { child, base: String::new() };
    server.base = base.ok_or("ocrchat serve did not start")?;
    Ok(server)
}

fn create_token(bin: &Path, data_dir: &Path) -> Result<String, String> {
    let out = Command::new(bin)
        .args(["token", "create", "--plan", "paid", "--credits", "1000", "--data-dir"])
        .arg(data_dir)
        .output()
        .map_err(|e| format!("ocrchat token create: {e}"))?;
    if !out.status.success() {
        return Err(format!("token create failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout.lines().last().map(|l| l.trim().to_string()).ok_or_else(|| "token create printed nothing".into())
}

/// A `/proc/<pid>/status` field in its own unit (kB for memory).
fn status_field(pid: u32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (11 and 12 after the name); USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Busy and total CPU seconds of the whole machine so far (`/proc/stat`).
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: f64 = ticks.iter().sum();
    // idle and iowait are fields 4 and 5.
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

/// Waits (at most `limit`) until the machine is nearly idle for 3 s: other work on a shared
/// machine takes the cores a run measures. Returns the seconds waited.
fn wait_quiet(limit: Duration) -> f64 {
    let start = Instant::now();
    loop {
        let (busy0, total0) = machine_cpu();
        std::thread::sleep(Duration::from_secs(3));
        let (busy1, total1) = machine_cpu();
        let busy = (busy1 - busy0) / (total1 - total0).max(0.01);
        if busy < 0.15 || start.elapsed() >= limit {
            return start.elapsed().as_secs_f64();
        }
    }
}

/// Threads of a process named `ocrchat-page-*` (the inference pool).
fn pool_threads(pid: u32) -> usize {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .filter_map(Result::ok)
        .filter(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("ocrchat-page-")))
        .count()
}

/// The runtime that ran the models: onnxruntime when its library is mapped.
fn runtime_of(pid: u32) -> String {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    if maps.contains("libonnxruntime") { "onnxruntime" } else { "rten" }.into()
}

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(600)).build().expect("http client")
}

fn submit(server: &Server, token: &str, name: &str, bytes: Vec<u8>) -> Result<Value, String> {
    let form = multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name(name.to_string()));
    let resp = client()
        .post(format!("{}/api/v1/ocr/", server.base))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .map_err(|e| format!("submit: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().map_err(|e| format!("submit: {e}"))?;
    if status != 200 {
        return Err(format!("submit answered {status}: {body}"));
    }
    Ok(body)
}

/// Polls the job every 100 ms until it is done (or failed).
fn wait_done(server: &Server, token: &str, uuid: &str) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    while Instant::now() < deadline {
        let job: Value = client()
            .get(format!("{}/api/v1/ocr/{uuid}/", server.base))
            .bearer_auth(token)
            .send()
            .and_then(|r| r.json())
            .map_err(|e| format!("poll: {e}"))?;
        match job["status"].as_str() {
            Some("done") => return Ok(job),
            Some("failed") => return Err(format!("job failed: {}", job["error"])),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Err("the job did not finish within 30 minutes".into())
}

/// Samples a process's peak thread count until stopped.
fn sample_threads(pid: u32, stop: Arc<AtomicBool>, most: Arc<Mutex<u64>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if let Some(n) = status_field(pid, "Threads:") {
                let mut m = most.lock().unwrap_or_else(|e| e.into_inner());
                *m = (*m).max(n);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

struct Input {
    pdf: Vec<u8>,
    truths: Vec<String>,
    warmup: Vec<u8>,
}

fn measure(
    input: &Input,
    build: &'static str,
    bin: &Path,
    cpus: &'static str,
    workers: usize,
    model: Option<&str>,
    args: &Args,
) -> Result<Run, String> {
    let dir = TempDir::new(&format!("poolbench-{workers}"));
    let token = create_token(bin, dir.path())?;
    let mut env = vec![("OCRCHAT_WORKERS".to_string(), workers.to_string())];
    if let Some(model) = model {
        // `small-int8`: the small model with its int8 recogniser (`OCRCHAT_INT8`).
        let (size, int8) = model.strip_suffix("-int8").map_or((model, false), |m| (m, true));
        env.push(("OCRCHAT_MODEL".into(), size.to_string()));
        if int8 {
            env.push(("OCRCHAT_INT8".into(), "true".into()));
        }
    }
    env.extend(args.env.iter().cloned());
    let server = start_server(bin, cpus, dir.path(), &env)?;
    let pid = server.child.id();
    // Models loaded (and the first session made) before the clock starts.
    submit(&server, &token, "warmup.png", input.warmup.clone())?;
    let waited = wait_quiet(args.quiet_wait);
    if waited > 4.0 {
        println!("poolbench: waited {waited:.0} s for the machine to be idle");
    }
    let (stop, most) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(0)));
    let sampler = sample_threads(pid, Arc::clone(&stop), Arc::clone(&most));
    let (start, cpu_start, machine_start) = (Instant::now(), cpu_seconds(pid), machine_cpu().0);
    let job = submit(&server, &token, "scanned.pdf", input.pdf.clone())?;
    let uuid = job["uuid"].as_str().ok_or("no uuid")?.to_string();
    let done = wait_done(&server, &token, &uuid)?;
    let (wall, cpu_s) = (start.elapsed(), cpu_seconds(pid) - cpu_start);
    let others_cpu_s = (machine_cpu().0 - machine_start - cpu_s).max(0.0);
    let pool = pool_threads(pid);
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let peak_rss_kib = status_field(pid, "VmHWM:").unwrap_or(0);
    let pages = done["pages"].as_array().ok_or("no pages")?;
    let (mut errors, mut chars) = (0.0, 0.0);
    for (page, truth) in pages.iter().zip(&input.truths) {
        // Weighted by the page's length as `cer` counts it: the CER of all pages together.
        let n = norm(truth, false).chars().count() as f64;
        errors += cer(page["text"].as_str().unwrap_or(""), truth) * n;
        chars += n;
    }
    let threads = *most.lock().unwrap_or_else(|e| e.into_inner());
    let run = Run {
        build,
        model: model.unwrap_or("default").to_string(),
        cpus,
        workers,
        wall,
        cpu_s,
        peak_rss_kib,
        threads,
        pool_threads: pool,
        runtime: runtime_of(pid),
        cer: errors / chars.max(1.0),
        pages: pages.len(),
        others_cpu_s,
    };
    println!(
        "poolbench: {build}, {}, CPUs {cpus}, workers {workers}: {} pages in {:.1} s = {:.3} pages/s, CPU {:.1} s, \
         peak RSS {} MiB, threads {} (pool {}), {}, CER {:.4}, other processes {:.1} CPU s",
        run.model,
        run.pages,
        wall.as_secs_f64(),
        run.pages_per_s(),
        cpu_s,
        peak_rss_kib / 1024,
        threads,
        pool,
        run.runtime,
        run.cer,
        others_cpu_s
    );
    Ok(run)
}

fn mb(kib: u64) -> String {
    format!("{:.0} MB ({} MiB)", kib as f64 * 1024.0 / 1e6, kib / 1024)
}

fn markdown(runs: &[Run], args: &Args, input_bytes: usize, meta: &str) -> String {
    let mut out = vec![
        "## Server throughput".to_string(),
        String::new(),
        format!(
            "Generated by `bash bench/run.sh pool` (part of `make bench`; `tests/src/bin/poolbench.rs`) on {meta}. \
             A {}-page scanned PDF ({:.1} MB: {} in turn, grey JPEG pages, no text layer) submitted to a \
             fresh `ocrchat serve` (SQLite, model: {}) after a one-page warm-up; wall time from the submission \
             to `done` (polled every 100 ms). One core: `taskset -c 0`, `OCRCHAT_WORKERS=1`; two cores: \
             `taskset -c 0,1`, `OCRCHAT_WORKERS=2` (the default on this machine). Each page runs on one \
             thread of the inference pool (`ocrchat-page-N`, one per worker) with a recogniser session of \
             its own (detector sessions: half the workers, rounded up); onnxruntime intra-op threads = \
             cores ÷ workers = 1 (a detector session shared by two workers: 2). *before*: the build `BENCH_POOL_BEFORE` names, measured the same way. Each run waits (at most {} s) for the \
             machine to be idle first; *other processes' CPU* is what the rest of this shared machine \
             used during the run (it takes cores from the server).{}",
            args.pages,
            input_bytes as f64 / 1e6,
            SCAN_PAGES.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", "),
            if args.models.is_empty() { "the server's default".to_string() } else { args.models.join(" and ") },
            args.quiet_wait.as_secs(),
            if args.env.is_empty() {
                String::new()
            } else {
                format!(
                    " Extra server environment: {}.",
                    args.env.iter().map(|(k, v)| format!("`{k}={v}`")).collect::<Vec<_>>().join(", ")
                )
            }
        ),
        String::new(),
        "| build | model | CPUs | workers | runtime | wall s | **pages/s** | server CPU s | CPU use | other processes' CPU | peak RSS (`VmHWM`) | peak threads (pool) | CER |".into(),
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|".into(),
    ];
    for r in runs {
        out.push(format!(
            "| {} | {} | {} | {} | {} | {:.1} | **{:.3}** | {:.1} | {:.0}% | {:.1} s | {} | {} ({}) | {:.4} |",
            r.build,
            r.model,
            r.cpus,
            r.workers,
            r.runtime,
            r.wall.as_secs_f64(),
            r.pages_per_s(),
            r.cpu_s,
            100.0 * r.cpu_s / r.wall.as_secs_f64(),
            r.others_cpu_s,
            mb(r.peak_rss_kib),
            r.threads,
            r.pool_threads,
            r.cer
        ));
    }
    out.push(String::new());
    let mut pairs: Vec<(&str, &str)> = runs.iter().map(|r| (r.build, r.model.as_str())).collect();
    pairs.dedup();
    for (build, model) in pairs {
        let of = |w: usize| runs.iter().find(|r| r.build == build && r.model == model && r.workers == w);
        if let (Some(one), Some(two)) = (of(1), of(2)) {
            let ratio = two.pages_per_s() / one.pages_per_s();
            let peak = one.peak_rss_kib.max(two.peak_rss_kib);
            let verdict = |ok: bool| if ok { "**PASS**" } else { "**MISS**" };
            out.push(format!(
                "- {build}, {model} model: 2 cores read **{ratio:.2}x** the pages/s of one (target ≥ {RATIO_TARGET}x: {}); \
                 peak RSS {} (target ≤ 400 MB: {}).",
                verdict(ratio >= RATIO_TARGET),
                mb(peak),
                verdict(peak * 1024 <= RSS_TARGET)
            ));
        }
    }
    out.push(String::new());
    out.join("\n")
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("poolbench: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(testdata) = testdata_dir() else {
        println!("poolbench: skipped: ../shared/testdata not found");
        return ExitCode::SUCCESS;
    };
    if Command::new("taskset").arg("-V").output().is_err() {
        println!("poolbench: skipped: taskset (util-linux) not found");
        return ExitCode::SUCCESS;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        println!("poolbench: skipped: needs 2 CPUs, this machine has {cores}");
        return ExitCode::SUCCESS;
    }
    let load = |name: &str| image::open(testdata.join(name)).map(|i| i.to_luma8());
    let (mut images, mut truths) = (Vec::new(), Vec::new());
    for i in 0..args.pages {
        let name = SCAN_PAGES[i % SCAN_PAGES.len()];
        let stem = name.trim_end_matches(".png");
        match (load(name), std::fs::read_to_string(testdata.join(format!("{stem}.txt")))) {
            (Ok(img), Ok(truth)) => {
                images.push(img);
                truths.push(truth);
            }
            _ => {
                eprintln!("poolbench: {name} or its ground truth missing in {}", testdata.display());
                return ExitCode::FAILURE;
            }
        }
    }
    // Grey JPEG pages (quality 90) as bench/pdf_bench.py makes them; the scans keep their pixels:
    // rendered at 300 dpi, each page is as large as its scan.
    let pdf = scanned_jpeg_pdf(&images.iter().collect::<Vec<_>>(), 300.0, 90);
    drop(images);
    let warmup = std::fs::read(testdata.join("tess_phototest.png")).expect("read the warm-up page");
    let input = Input { pdf, truths, warmup };
    let meta = format!("{} — {}, {cores} CPUs, load average at start {}", utc_now(), commit(), loadavg());
    let this = workspace_root().join("target/release/ocrchat");
    let this = std::env::var_os("OCRCHAT_BIN").map_or(this, PathBuf::from);
    let mut builds: Vec<(&'static str, PathBuf)> = Vec::new();
    if let Some(before) = &args.before {
        builds.push(("before", before.clone()));
    }
    builds.push(("this build", this));
    let mut runs = Vec::new();
    let models: Vec<Option<&str>> =
        if args.models.is_empty() { vec![None] } else { args.models.iter().map(|m| Some(m.as_str())).collect() };
    for model in &models {
        for (build, bin) in &builds {
            for workers in args.workers.clone() {
                let cpus = if workers == 1 { "0" } else { "0,1" };
                match measure(&input, build, bin, cpus, workers, *model, &args) {
                    Ok(run) => runs.push(run),
                    Err(e) => {
                        eprintln!("poolbench: {build}, CPUs {cpus}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
        }
    }
    let section = markdown(&runs, &args, input.pdf.len(), &meta);
    println!("{section}");
    if let Some(path) = &args.markdown
        && let Err(e) = std::fs::write(path, &section)
    {
        eprintln!("poolbench: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
