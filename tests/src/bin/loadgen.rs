//! `loadgen`: the API load benchmark of `make bench` (`bash bench/run.sh load`).
//!
//! Starts real `ocrchat serve` processes on 127.0.0.1 (temporary data directories, `tiny` model,
//! paid tokens) — one node on SQLite, then (when a PostgreSQL is given) `--pg-nodes` nodes on one
//! PostgreSQL database — and runs the same load against each deployment, spread round-robin over
//! its nodes:
//! 1. fires N concurrent submissions (default 200) of one small image, spread over several
//!    tokens; a `429` is the designed back-pressure: the client checks `Retry-After`, waits that
//!    long and retries, until every submission is accepted and done;
//! 2. performs M polls (default 2,000) of the finished jobs, C at a time (default 50), timing each.
//!
//! Meanwhile each node's RSS is sampled from `/proc/<pid>/status`. Any status other than 200 and
//! the designed 429 (with `Retry-After`), any connection error, any job not `done` at the end or
//! an upload left behind, and a peak RSS over the bound make the run fail (exit 1). The
//! measurements go to stdout and, as the `## API load` section of `bench/results.md`, to
//! `--markdown FILE` (written also when the run fails, so a failure is on record).
//!
//! PostgreSQL: `--postgres-url URL` or `OCRCHAT_TEST_DATABASE_URL` (an admin URL; a fresh
//! database is created on it), as `bash bench/run.sh load` provides with `scripts/postgres.sh`.
//! Without either the PostgreSQL deployment is skipped and the report says so.
//!
//! Loopback only: the servers bind 127.0.0.1:0 and the client talks to nothing else. Bounded:
//! every request has a timeout and the whole run a deadline (`--deadline-secs`).

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocrchat_tests::server::{TempDir, listening_address};
use ocrchat_tests::{commit, loadavg, models_dir, testdata_dir, utc_now};
use tokio::sync::Semaphore;

/// Command-line settings (`--key value`).
#[derive(Clone, Debug)]
struct Args {
    submissions: usize,
    polls: usize,
    poll_concurrency: usize,
    tokens: usize,
    image: Option<PathBuf>,
    per_caller: i64,
    total: usize,
    workers: Option<usize>,
    max_rss_mb: u64,
    memory_wave: bool,
    deadline_secs: u64,
    markdown: Option<PathBuf>,
    postgres_url: Option<String>,
    pg_nodes: usize,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            submissions: 200,
            polls: 2000,
            poll_concurrency: 50,
            tokens: 4,
            image: None,
            // 4 callers × 20 = 80 > 64 server-wide: the server-wide limit bites first, and a
            // caller whose retries land early hits its own limit, so both 429 paths are
            // exercised; either still admits far more requests than the inference slots.
            per_caller: 20,
            total: 64,
            workers: None,
            max_rss_mb: 1024,
            memory_wave: true,
            deadline_secs: 900,
            markdown: None,
            postgres_url: std::env::var("OCRCHAT_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()),
            pg_nodes: 2,
        }
    }
}

const USAGE: &str = "usage: loadgen [--submissions N] [--polls N] [--poll-concurrency N] [--tokens N] [--image FILE] \
[--per-caller N] [--total N] [--workers N] [--max-rss-mb N] [--memory-wave 0|1] [--deadline-secs N] [--markdown FILE] \
[--postgres-url ADMIN_URL] [--pg-nodes N]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        if key == "-h" || key == "--help" {
            return Err(USAGE.into());
        }
        let value = it.next().ok_or_else(|| format!("{key} needs a value\n{USAGE}"))?;
        let num = || value.parse::<u64>().map_err(|_| format!("{key}: not a number: {value}"));
        match key.as_str() {
            "--submissions" => args.submissions = num()? as usize,
            "--polls" => args.polls = num()? as usize,
            "--poll-concurrency" => args.poll_concurrency = num()?.max(1) as usize,
            "--tokens" => args.tokens = num()?.max(1) as usize,
            "--image" => args.image = Some(PathBuf::from(&value)),
            "--per-caller" => args.per_caller = num()? as i64,
            "--total" => args.total = num()? as usize,
            "--workers" => args.workers = Some(num()? as usize),
            "--max-rss-mb" => args.max_rss_mb = num()?,
            "--memory-wave" => args.memory_wave = num()? != 0,
            "--deadline-secs" => args.deadline_secs = num()?,
            "--markdown" => args.markdown = Some(PathBuf::from(&value)),
            "--postgres-url" => args.postgres_url = Some(value.clone()),
            "--pg-nodes" => args.pg_nodes = num()?.max(1) as usize,
            _ => return Err(format!("unknown option {key}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// What the load runs against.
#[derive(Clone, Debug)]
enum Deployment {
    /// One node, the embedded default (`make run`).
    Sqlite,
    /// `nodes` nodes on one PostgreSQL database (`url`), uploads and result PDFs in the
    /// database (`blob_store = "database"`): the nodes share nothing else.
    Postgres { url: String, nodes: usize },
}

impl Deployment {
    fn nodes(&self) -> usize {
        match self {
            Self::Sqlite => 1,
            Self::Postgres { nodes, .. } => *nodes,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Sqlite => "1 node, SQLite".into(),
            Self::Postgres { nodes, .. } => format!("{nodes} nodes, PostgreSQL"),
        }
    }

    /// The environment that points a node (or the token CLI) at this deployment's database.
    fn env(&self) -> Vec<(String, String)> {
        match self {
            Self::Sqlite => Vec::new(),
            Self::Postgres { url, .. } => {
                vec![("OCRCHAT_DATABASE_URL".into(), url.clone()), ("OCRCHAT_BLOB_STORE".into(), "database".into())]
            }
        }
    }
}

/// A server under load: a child process, killed on drop.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/release/ocrchat` beside this binary (or `OCRCHAT_BIN`).
fn ocrchat_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("OCRCHAT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("own path");
    exe.with_file_name("ocrchat")
}

fn start_server(data_dir: &Path, env: &[(String, String)]) -> Result<Server, String> {
    let log = data_dir.with_extension("server.log");
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(ocrchat_bin());
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--models-dir")
        .arg(models_dir())
        // Warnings only: 200 jobs at info level would be noise in the log.
        .env("OCRCHAT_LOG", "warn")
        // Never the developer's ocrchat.toml.
        .current_dir(data_dir)
        .stdout(Stdio::piped())
        .stderr(log_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn {}: {e}", ocrchat_bin().display()))?;
    let base = listening_address(&mut child, Duration::from_secs(120));
    let mut server = Server { child, base: String::new(), log };
    server.base = base.ok_or("ocrchat serve did not start within 120 s")?;
    Ok(server)
}

fn create_token(data_dir: &Path, deployment: &Deployment, credits: usize) -> Result<String, String> {
    let out = Command::new(ocrchat_bin())
        .args(["token", "create", "--plan", "paid", "--credits", &credits.to_string(), "--data-dir"])
        .arg(data_dir)
        .envs(deployment.env())
        .output()
        .map_err(|e| format!("ocrchat token create: {e}"))?;
    if !out.status.success() {
        return Err(format!("token create failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout.lines().last().map(|l| l.trim().to_string()).ok_or_else(|| "token create printed nothing".into())
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Largest sampled RSS since the last `take`, for per-phase peaks.
#[derive(Default)]
struct RssPeak(AtomicU64);

impl RssPeak {
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed)
    }
}

/// What went wrong, by kind, and status codes seen, per phase.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    unexpected: Vec<String>,
    throttled_total: u64,
    throttled_caller: u64,
    retry_after: BTreeMap<String, u64>,
}

impl Tally {
    fn status(&mut self, s: impl Into<String>) {
        *self.statuses.entry(s.into()).or_default() += 1;
    }

    fn unexpected(&mut self, what: String) {
        // The first few are enough to diagnose; the count is in the histogram.
        if self.unexpected.len() < 20 {
            self.unexpected.push(what);
        }
    }
}

/// One submission's outcome.
struct Submitted {
    uuid: String,
    token: usize,
    latency: Duration,
    attempts: u32,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Submits the image until accepted; returns the done job.
async fn submit_one(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    image: &Arc<Vec<u8>>,
    tally: &Mutex<Tally>,
    deadline: Instant,
) -> Result<(String, u32), String> {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        if Instant::now() > deadline {
            return Err(format!("not accepted before the deadline after {attempts} attempts"));
        }
        let part = reqwest::multipart::Part::bytes(image.to_vec())
            .file_name("tess_phototest.png")
            .mime_str("image/png")
            .expect("mime");
        let form = reqwest::multipart::Form::new().part("file", part).text("language", "en");
        let sent = client.post(format!("{base}/api/v1/ocr/")).bearer_auth(token).multipart(form).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let what = format!("submit: connection error: {e:?}");
                let mut t = tally.lock().expect("tally");
                t.status("connection error");
                t.unexpected(what.clone());
                return Err(what);
            }
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = response.bytes().await.map_err(|e| format!("submit: reading the body: {e}"));
        tally.lock().expect("tally").status(status.to_string());
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                tally.lock().expect("tally").unexpected(e.clone());
                return Err(e);
            }
        };
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        match status {
            200 => {
                let uuid = json["uuid"].as_str().unwrap_or_default().to_string();
                let state = json["status"].as_str().unwrap_or_default();
                // ≤ 5 pages are processed before the POST returns: the job must be done, with text.
                if uuid.is_empty() || state != "done" || json["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
                    let what = format!("submit: 200 but job {uuid:?} is {state:?} (error {:?})", json["error"]);
                    tally.lock().expect("tally").unexpected(what.clone());
                    return Err(what);
                }
                return Ok((uuid, attempts));
            }
            429 => {
                let Some(secs) = retry_after.as_deref().and_then(|v| v.parse::<u64>().ok()) else {
                    let what = format!("submit: 429 without a valid Retry-After ({retry_after:?})");
                    tally.lock().expect("tally").unexpected(what.clone());
                    return Err(what);
                };
                {
                    let mut t = tally.lock().expect("tally");
                    let message = json["message"].as_str().unwrap_or_default();
                    if message.contains("this caller") {
                        t.throttled_caller += 1;
                    } else {
                        t.throttled_total += 1;
                    }
                    *t.retry_after.entry(secs.to_string()).or_default() += 1;
                }
                // Do as told, plus up to 250 ms of jitter so the retries of one wave do not
                // all land in the same millisecond (what a well-behaved client does).
                let jitter = Duration::from_millis(u64::from(rand_u32() % 250));
                tokio::time::sleep(Duration::from_secs(secs) + jitter).await;
            }
            _ => {
                let what = format!(
                    "submit: unexpected {status}: {}",
                    String::from_utf8_lossy(&body).chars().take(300).collect::<String>()
                );
                tally.lock().expect("tally").unexpected(what.clone());
                return Err(what);
            }
        }
    }
}

/// A cheap pseudo-random number for jitter (no need for a crypto RNG or a new dependency).
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // Every RandomState has fresh keys, so an empty hash is a random number.
    std::collections::hash_map::RandomState::new().build_hasher().finish() as u32
}

/// Everything measured, for the report.
struct Report {
    args: Args,
    deployment: Deployment,
    image_desc: String,
    settings: Vec<(String, String)>,
    submit_wall: Duration,
    submit_ok: usize,
    submit_latencies: Vec<Duration>,
    attempts_max: u32,
    submit_tally: Tally,
    poll_wall: Duration,
    poll_latencies: Vec<Duration>,
    poll_tally: Tally,
    // Per node, in node order.
    rss_idle_kib: Vec<u64>,
    rss_submit_peak_kib: Vec<u64>,
    rss_poll_peak_kib: Vec<u64>,
    rss_wave2_peak_kib: Option<Vec<u64>>,
    rss_end_kib: Vec<u64>,
    hwm_kib: Vec<u64>,
    jobs_done: usize,
    uploads_left: usize,
    failures: Vec<String>,
    nproc: usize,
    loadavg: String,
    date: String,
    commit: String,
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

/// One value per node: `581` or `402 / 398`.
fn mibs(kib: &[u64]) -> String {
    kib.iter().map(|k| mib(*k)).collect::<Vec<_>>().join(" / ")
}

fn histogram(t: &Tally) -> String {
    t.statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}

/// The `## API load` section: one column per deployment, measured in one run.
fn markdown(reports: &[Report], skipped: Option<&str>) -> String {
    let first = &reports[0];
    let a = &first.args;
    let mut s = String::new();
    s += "## API load\n\n";
    s += &format!(
        "Generated by `bash bench/run.sh load` (part of `make bench`; `tests/src/bin/loadgen.rs`) on {} — {}, {} CPUs, \
         load average at start {} (the machine is shared: other work inflates latencies). Loopback only: real \
         `ocrchat serve` processes on 127.0.0.1, each with a fresh data dir; the same load against each deployment, \
         one after the other, requests spread round-robin over the deployment's nodes.\n\n",
        first.date, first.commit, first.nproc, first.loadavg
    );
    s += &format!(
        "- Workload: {} concurrent submissions of {} (`language=en`, one page: processed inline, so a 200 is the \
         finished job) spread over {} paid tokens; each 429 is retried after its `Retry-After` (+ ≤ 250 ms jitter) \
         until accepted. Then {} polls (`GET /api/v1/ocr/<uuid>/` of the done jobs, round-robin), {} at a time.\n",
        a.submissions, first.image_desc, a.tokens, a.polls, a.poll_concurrency
    );
    s += &format!(
        "- Settings of every node: {}. On PostgreSQL: `blob_store = \"database\"` (uploads and result PDFs in the \
         database: the nodes share nothing but it), all nodes on this one 2-core machine, so they compete for the same \
         cores: the PostgreSQL column shows what scale-out costs and keeps, not what more machines would add.\n",
        first.settings.iter().map(|(k, v)| format!("`{k}={v}`")).collect::<Vec<_>>().join(", ")
    );
    if let Some(why) = skipped {
        s += &format!("- Not measured: PostgreSQL ({why}).\n");
    }
    s += "\n";
    s += "| measure |";
    for r in reports {
        s += &format!(" {} |", r.deployment.describe());
    }
    s += "\n|---|";
    s += &"---:|".repeat(reports.len());
    s += "\n";
    let mut row = |name: &str, cell: &dyn Fn(&Report) -> String| {
        s += &format!("| {name} |");
        for r in reports {
            s += &format!(" {} |", cell(r));
        }
        s += "\n";
    };
    let sorted = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    row("submissions accepted and done", &|r| format!("{} / {}", r.submit_ok, r.args.submissions));
    row("submission phase wall time", &|r| format!("{:.1} s", r.submit_wall.as_secs_f64()));
    row("submissions/s (accepted and done ÷ wall)", &|r| {
        format!("{:.2}", r.submit_ok as f64 / r.submit_wall.as_secs_f64().max(1e-9))
    });
    row("submission latency, first try → done, p50 / p99 / max", &|r| {
        let lat = sorted(&r.submit_latencies);
        format!(
            "{} / {} / {} s",
            secs(percentile(&lat, 50.0)),
            secs(percentile(&lat, 99.0)),
            secs(lat.last().copied().unwrap_or_default())
        )
    });
    row("429s (server-wide limit / per-caller limit)", &|r| {
        let t = &r.submit_tally;
        format!("{} ({} / {})", t.throttled_total + t.throttled_caller, t.throttled_total, t.throttled_caller)
    });
    row("`Retry-After` values seen", &|r| {
        r.submit_tally.retry_after.iter().map(|(k, v)| format!("{k} s × {v}")).collect::<Vec<_>>().join(", ")
    });
    row("most attempts for one submission", &|r| r.attempts_max.to_string());
    row("submission status codes", &|r| histogram(&r.submit_tally));
    row("polls", &|r| {
        format!(
            "{} in {:.2} s ({:.0}/s)",
            r.poll_latencies.len(),
            r.poll_wall.as_secs_f64(),
            r.poll_latencies.len() as f64 / r.poll_wall.as_secs_f64().max(1e-9)
        )
    });
    row("**poll latency p50 / p99 / max**", &|r| {
        let pl = sorted(&r.poll_latencies);
        format!(
            "**{} / {} / {} ms**",
            ms(percentile(&pl, 50.0)),
            ms(percentile(&pl, 99.0)),
            ms(pl.last().copied().unwrap_or_default())
        )
    });
    row("poll status codes", &|r| histogram(&r.poll_tally));
    row("jobs `done` at the end / uploads left behind", &|r| format!("{} / {}", r.jobs_done, r.uploads_left));
    row("RSS per node, idle after start (MiB)", &|r| mibs(&r.rss_idle_kib));
    row("RSS per node, peak while submitting", &|r| mibs(&r.rss_submit_peak_kib));
    row("RSS per node, peak while polling", &|r| mibs(&r.rss_poll_peak_kib));
    if first.rss_wave2_peak_kib.is_some() {
        row(&format!("RSS per node, peak during a second wave of {} submissions", a.submissions), &|r| {
            r.rss_wave2_peak_kib.as_deref().map(mibs).unwrap_or_default()
        });
    }
    row("RSS per node at the end", &|r| mibs(&r.rss_end_kib));
    row(&format!("**peak RSS per node (`VmHWM`, MiB; bound {})**", a.max_rss_mb), &|r| {
        format!("**{}**", mibs(&r.hwm_kib))
    });
    row("result", &|r| if r.failures.is_empty() { "**PASS**".into() } else { "**FAIL**".into() });
    s += "\n";
    if reports.iter().all(|r| r.failures.is_empty()) {
        s += "No status other than 200 and the designed 429 (every one with `Retry-After`), no connection error, no \
              lost job, on every deployment. Latency is client-observed (request sent → body read), on the same 2-core \
              machine as the servers.\n";
    } else {
        for r in reports.iter().filter(|r| !r.failures.is_empty()) {
            s += &format!("Failures ({}):\n\n", r.deployment.describe());
            for f in &r.failures {
                s += &format!("- {}\n", f.replace('\n', " "));
            }
            s += "\n";
        }
    }
    s
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let image_path = match args.image.clone().or_else(|| testdata_dir().map(|d| d.join("tess_phototest.png"))) {
        Some(p) if p.is_file() => p,
        _ => {
            println!("loadgen: SKIP: no image (../shared/testdata/tess_phototest.png is absent; pass --image FILE)");
            return ExitCode::SUCCESS;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut deployments = vec![Deployment::Sqlite];
    let skipped = match &args.postgres_url {
        Some(admin) => {
            match runtime.block_on(fresh_database(admin)) {
                Ok(url) => deployments.push(Deployment::Postgres { url, nodes: args.pg_nodes }),
                Err(e) => {
                    eprintln!("loadgen: {e}");
                    return ExitCode::FAILURE;
                }
            }
            None
        }
        None => {
            println!("loadgen: SKIP PostgreSQL: no --postgres-url or OCRCHAT_TEST_DATABASE_URL");
            Some("no PostgreSQL given: `bash bench/run.sh load` starts one")
        }
    };
    let mut reports = Vec::new();
    for deployment in deployments {
        println!("loadgen: {}", deployment.describe());
        match runtime.block_on(run(args.clone(), &image_path, deployment)) {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("loadgen: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let md = markdown(&reports, skipped);
    println!("{md}");
    if let Some(path) = &args.markdown
        && let Err(e) = std::fs::write(path, &md)
    {
        eprintln!("loadgen: writing {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if reports.iter().all(|r| r.failures.is_empty()) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// A new, empty database on the PostgreSQL server `admin` points at; its URL.
async fn fresh_database(admin: &str) -> Result<String, String> {
    use sqlx::Connection;
    let name = format!("ocrchat_loadgen_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin).await.map_err(|e| format!("connecting to PostgreSQL: {e}"))?;
    for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("CREATE DATABASE {name}")] {
        sqlx::query(&sql).execute(&mut conn).await.map_err(|e| format!("{sql}: {e}"))?;
    }
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    Ok(format!("{base}/{name}"))
}

/// Fires `args.submissions` submissions at once; returns the done jobs, the failures and the wall
/// time until the last one was done.
async fn submit_wave(
    args: &Args,
    client: &reqwest::Client,
    bases: &Arc<Vec<String>>,
    tokens: &Arc<Vec<String>>,
    image: &Arc<Vec<u8>>,
    tally: &Arc<Mutex<Tally>>,
    deadline: Instant,
) -> (Vec<Submitted>, Vec<String>, Duration) {
    let start_gate = Arc::new(tokio::sync::Barrier::new(args.submissions + 1));
    let mut handles = Vec::new();
    for i in 0..args.submissions {
        let (client, bases, image, tally, gate, tokens) = (
            client.clone(),
            Arc::clone(bases),
            Arc::clone(image),
            Arc::clone(tally),
            Arc::clone(&start_gate),
            Arc::clone(tokens),
        );
        handles.push(tokio::spawn(async move {
            let token = i % tokens.len();
            // All tasks start together: 200 requests really are in flight at once.
            gate.wait().await;
            let t0 = Instant::now();
            // Round-robin over the nodes, as a load balancer would.
            submit_one(&client, &bases[i % bases.len()], &tokens[token], &image, &tally, deadline)
                .await
                .map(|(uuid, attempts)| Submitted { uuid, token, latency: t0.elapsed(), attempts })
        }));
    }
    start_gate.wait().await;
    let t_submit = Instant::now();
    let mut submitted = Vec::new();
    let mut failures = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(s)) => submitted.push(s),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("submit task: {e}")),
        }
    }
    (submitted, failures, t_submit.elapsed())
}

async fn run(args: Args, image_path: &Path, deployment: Deployment) -> Result<Report, String> {
    let image = Arc::new(std::fs::read(image_path).map_err(|e| format!("{}: {e}", image_path.display()))?);
    let image_desc =
        format!("`{}` ({} bytes)", image_path.file_name().unwrap_or_default().to_string_lossy(), image.len());
    let date = utc_now();
    let load_at_start = loadavg();

    let tmp = TempDir::new("loadgen");
    let data_dirs: Vec<PathBuf> = (0..deployment.nodes()).map(|i| tmp.path().join(format!("node{i}"))).collect();
    for dir in &data_dirs {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let mut settings = vec![
        ("OCRCHAT_MODEL".to_string(), "tiny".to_string()),
        ("OCRCHAT_MAX_INFLIGHT_PER_CALLER".to_string(), args.per_caller.to_string()),
        ("OCRCHAT_MAX_INFLIGHT_TOTAL".to_string(), args.total.to_string()),
    ];
    if let Some(w) = args.workers {
        settings.push(("OCRCHAT_WORKERS".into(), w.to_string()));
    }
    let mut servers = Vec::new();
    for dir in &data_dirs {
        let env: Vec<(String, String)> = settings.iter().cloned().chain(deployment.env()).collect();
        servers.push(start_server(dir, &env)?);
    }
    // Paid tokens with credits for every submission (a 402 would be an error here).
    let waves = if args.memory_wave { 2 } else { 1 };
    let per_token = args.submissions.div_ceil(args.tokens) * waves;
    let mut tokens = Vec::new();
    for _ in 0..args.tokens {
        tokens.push(create_token(&data_dirs[0], &deployment, per_token + 10)?);
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
    let bases = Arc::new(servers.iter().map(|s| s.base.clone()).collect::<Vec<_>>());
    println!(
        "loadgen: servers {bases:?} (pids {pids:?}), {} submissions over {} tokens, {} polls",
        args.submissions, args.tokens, args.polls
    );
    let workers_setting = args.workers.map_or_else(
        || format!("default ({} = CPU cores)", std::thread::available_parallelism().map_or(1, |n| n.get())),
        |w| w.to_string(),
    );
    settings.push(("workers".into(), workers_setting));

    // RSS sampler: every 20 ms, the largest value per node since the phase began.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle_kib: Vec<u64> = pids.iter().map(|&pid| rss_kib(pid).map_or(0, |(rss, _)| rss)).collect();
    let peaks: Arc<Vec<RssPeak>> = Arc::new(pids.iter().map(|_| RssPeak::default()).collect());
    let sampler = {
        let (peaks, pids) = (Arc::clone(&peaks), pids.clone());
        tokio::spawn(async move {
            loop {
                for (peak, &pid) in peaks.iter().zip(&pids) {
                    if let Some((rss, _)) = rss_kib(pid) {
                        peak.0.fetch_max(rss, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let take_peaks = || peaks.iter().map(RssPeak::take).collect::<Vec<u64>>();

    let deadline = Instant::now() + Duration::from_secs(args.deadline_secs);
    let client = reqwest::Client::builder()
        // A request that takes this long is a hang: report it rather than wait forever.
        .timeout(Duration::from_secs(300))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;

    // --- phase 1: concurrent submissions ---------------------------------------------------
    let tokens = Arc::new(tokens);
    let submit_tally = Arc::new(Mutex::new(Tally::default()));
    let (submitted, mut failures, submit_wall) =
        submit_wave(&args, &client, &bases, &tokens, &image, &submit_tally, deadline).await;
    let rss_submit_peak_kib = take_peaks();
    println!("loadgen: submissions done in {:.1} s ({} ok)", submit_wall.as_secs_f64(), submitted.len());

    // --- phase 2: polls ------------------------------------------------------------------------
    let poll_tally = Arc::new(Mutex::new(Tally::default()));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.polls)));
    let slots = Arc::new(Semaphore::new(args.poll_concurrency));
    let jobs: Arc<Vec<(String, String)>> =
        Arc::new(submitted.iter().map(|s| (s.uuid.clone(), tokens[s.token].clone())).collect());
    let t_poll = Instant::now();
    let mut handles = Vec::new();
    if !jobs.is_empty() {
        for i in 0..args.polls {
            let permit = Arc::clone(&slots).acquire_owned().await.expect("semaphore");
            let (client, base, jobs, tally, latencies) = (
                client.clone(),
                bases[i % bases.len()].clone(),
                Arc::clone(&jobs),
                Arc::clone(&poll_tally),
                Arc::clone(&latencies),
            );
            handles.push(tokio::spawn(async move {
                let _permit = permit;
                let (uuid, token) = &jobs[i % jobs.len()];
                let t0 = Instant::now();
                let sent = client.get(format!("{base}/api/v1/ocr/{uuid}/")).bearer_auth(token).send().await;
                let result = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        r.bytes().await.map(|b| (status, b))
                    }
                    Err(e) => Err(e),
                };
                let elapsed = t0.elapsed();
                let mut t = tally.lock().expect("tally");
                match result {
                    Ok((200, body)) => {
                        t.status("200");
                        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                        if json["status"] != "done" {
                            t.unexpected(format!("poll {uuid}: status {:?}", json["status"]));
                        }
                        latencies.lock().expect("latencies").push(elapsed);
                    }
                    Ok((status, body)) => {
                        t.status(status.to_string());
                        t.unexpected(format!(
                            "poll {uuid}: {status}: {}",
                            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
                        ));
                    }
                    Err(e) => {
                        t.status("connection error");
                        t.unexpected(format!("poll {uuid}: {e:?}"));
                    }
                }
            }));
        }
    }
    for h in handles {
        if let Err(e) = h.await {
            failures.push(format!("poll task: {e}"));
        }
    }
    let poll_wall = t_poll.elapsed();
    let rss_poll_peak_kib = take_peaks();

    // --- phase 3: the same wave again, for memory only ----------------------------------------
    // Bounded memory means a second wave does not raise the peak the way the first one did
    // from idle (allocator arenas, caches and the like are reused, not accumulated).
    let mut rss_wave2_peak_kib = None;
    let mut all_submitted: Vec<(String, usize)> = submitted.iter().map(|s| (s.uuid.clone(), s.token)).collect();
    if args.memory_wave {
        let wave2_tally = Arc::new(Mutex::new(Tally::default()));
        let (again, wave2_failures, wall) =
            submit_wave(&args, &client, &bases, &tokens, &image, &wave2_tally, deadline).await;
        rss_wave2_peak_kib = Some(take_peaks());
        println!("loadgen: second wave done in {:.1} s ({} ok)", wall.as_secs_f64(), again.len());
        failures.extend(wave2_failures);
        failures.extend(wave2_tally.lock().expect("tally").unexpected.iter().cloned());
        if again.len() != args.submissions {
            failures.push(format!(
                "second wave: only {} of {} submissions accepted and done",
                again.len(),
                args.submissions
            ));
        }
        all_submitted.extend(again.iter().map(|s| (s.uuid.clone(), s.token)));
    }
    sampler.abort();
    let (rss_end_kib, hwm_kib): (Vec<u64>, Vec<u64>) = pids.iter().map(|&pid| rss_kib(pid).unwrap_or_default()).unzip();

    // --- checks: every job done and visible, no upload left behind ------------------------
    let mut jobs_done = 0;
    for (i, (uuid, token)) in all_submitted.iter().enumerate() {
        // Asked of another node than the one that ran it, where there is one.
        let base = &bases[(i + 1) % bases.len()];
        let r = client.get(format!("{base}/api/v1/ocr/{uuid}/")).bearer_auth(&tokens[*token]).send().await;
        let done = match r {
            Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.is_ok_and(|j| j["status"] == "done"),
            _ => false,
        };
        jobs_done += usize::from(done);
    }
    let mut unique: Vec<&str> = all_submitted.iter().map(|(u, _)| u.as_str()).collect();
    unique.sort_unstable();
    unique.dedup();
    // Local staging files on every node; on PostgreSQL, also upload blobs are counted by
    // `cluster.rs` (here the staging directories show a leak on either backend).
    let uploads_left: usize =
        data_dirs.iter().map(|d| std::fs::read_dir(d.join("uploads")).map(|d| d.count()).unwrap_or(0)).sum();

    let submit_tally = std::mem::take(&mut *submit_tally.lock().expect("tally"));
    let poll_tally = std::mem::take(&mut *poll_tally.lock().expect("tally"));
    let poll_latencies = std::mem::take(&mut *latencies.lock().expect("latencies"));
    failures.extend(submit_tally.unexpected.iter().cloned());
    failures.extend(poll_tally.unexpected.iter().cloned());
    failures.sort();
    failures.dedup();
    if submitted.len() != args.submissions {
        failures.push(format!("only {} of {} submissions were accepted and done", submitted.len(), args.submissions));
    }
    if unique.len() != all_submitted.len() {
        failures.push(format!("{} accepted submissions but {} distinct job ids", all_submitted.len(), unique.len()));
    }
    if jobs_done != all_submitted.len() {
        failures.push(format!("{jobs_done} of {} jobs are done when polled at the end", all_submitted.len()));
    }
    if poll_latencies.len() != if jobs.is_empty() { 0 } else { args.polls } {
        failures.push(format!("{} of {} polls answered 200", poll_latencies.len(), args.polls));
    }
    if uploads_left != 0 {
        failures.push(format!("{uploads_left} uploads left in the data dir after every job finished"));
    }
    for (node, &hwm) in hwm_kib.iter().enumerate() {
        if hwm > args.max_rss_mb * 1024 {
            failures.push(format!("node {node}: peak RSS {} MiB over the bound of {} MiB", mib(hwm), args.max_rss_mb));
        }
    }
    for server in &servers {
        if !failures.is_empty() {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("loadgen: server log tail ({}):", server.log.display());
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
        let _ = std::fs::remove_file(&server.log);
    }
    drop(servers);

    Ok(Report {
        attempts_max: submitted.iter().map(|s| s.attempts).max().unwrap_or(0),
        submit_ok: submitted.len(),
        submit_latencies: submitted.iter().map(|s| s.latency).collect(),
        args,
        deployment,
        image_desc,
        settings,
        submit_wall,
        submit_tally,
        poll_wall,
        poll_latencies,
        poll_tally,
        rss_idle_kib,
        rss_submit_peak_kib,
        rss_poll_peak_kib,
        rss_wave2_peak_kib,
        rss_end_kib,
        hwm_kib,
        jobs_done,
        uploads_left,
        failures,
        nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg: load_at_start,
        date,
        commit: commit(),
    })
}
