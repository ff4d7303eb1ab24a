//! `chatbench`: the chat section of `make bench` (`bash bench/run.sh chat`).
//!
//! Starts a real `ocrchat serve` on 127.0.0.1, OCRs every file of
//! `shared/testdata/qa/questions.tsv` through the API and asks every question
//! with the built-in answerer (`engine=builtin`) and, when `--llm-url` (or
//! OCRCHAT_BENCH_LLM_URL) names a running OpenAI-compatible server, with the
//! LLM path (`engine=llm`) on the same jobs. Reports, per path: accuracy on
//! the answerable questions (the acceptance test's rule), how the
//! unanswerable ones fared, and latency p50/p99 — the HTTP round trip, and
//! for the built-in answerer also the answerer alone in-process (repeated).
//! Writes the `## Chat` section of `bench/results.md` to `--markdown FILE`.

#![allow(clippy::print_stdout)] // a command-line tool: stdout is its report

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ocrchat_tests::qa::{self, Question};
use ocrchat_tests::server::{TempDir, TestServer};
use ocrchat_tests::testdata_dir;

struct Args {
    markdown: Option<String>,
    model: String,
    llm_url: Option<String>,
    llm_model: String,
    repeat: usize,
}

fn args() -> Args {
    let mut a = Args {
        markdown: None,
        model: "small".into(),
        llm_url: std::env::var("OCRCHAT_BENCH_LLM_URL").ok().filter(|u| !u.is_empty()),
        llm_model: std::env::var("OCRCHAT_BENCH_LLM_MODEL").unwrap_or_else(|_| "local".into()),
        repeat: 50,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--markdown" => a.markdown = Some(v),
            "--model" => a.model = v,
            "--llm-url" => a.llm_url = Some(v),
            "--llm-model" => a.llm_model = v,
            "--repeat" => a.repeat = v.parse().expect("--repeat N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Outcome of one path over the question set.
#[derive(Default)]
struct Tally {
    answerable: usize,
    right: usize,
    unanswerable: usize,
    unanswerable_uncited: usize,
    /// "does not say" replies, and how many of them were to unanswerable questions.
    declined: usize,
    declined_correctly: usize,
    round_trips: Vec<Duration>,
    misses: Vec<String>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn run_path(
    server: &TestServer,
    token: &str,
    jobs: &HashMap<String, (String, Vec<String>)>,
    questions: &[Question],
    engine: &str,
) -> Tally {
    let mut t = Tally::default();
    for q in questions {
        let (uuid, pages) = &jobs[&q.file];
        let (status, reply, took) = qa::ask(server, token, uuid, &q.question, Some(engine));
        t.round_trips.push(took);
        let cited = reply["message"]["citations"].as_array().is_some_and(|c| !c.is_empty());
        let verdict = if status == 200 { qa::judge(q, &reply, pages) } else { Some(format!("HTTP {status}: {reply}")) };
        if !cited {
            t.declined += 1;
            t.declined_correctly += usize::from(q.expected.is_none());
        }
        match &q.expected {
            Some(_) => {
                t.answerable += 1;
                t.right += usize::from(verdict.is_none());
            }
            None => {
                t.unanswerable += 1;
                t.unanswerable_uncited += usize::from(verdict.is_none());
            }
        }
        if let Some(v) = verdict {
            t.misses.push(format!("{} — {}: {v}", q.file, q.question));
        }
        println!(
            "{engine:8} {:>7.1} ms  {} — {} → {}",
            took.as_secs_f64() * 1000.0,
            q.file,
            q.question,
            reply["message"]["content"]
        );
    }
    t.round_trips.sort();
    t
}

fn main() -> ExitCode {
    let args = args();
    let Some(dir) = testdata_dir() else {
        println!("chatbench: skipped, ../shared/testdata is absent");
        return ExitCode::SUCCESS;
    };
    let Some(questions) = qa::questions(&dir) else {
        println!("chatbench: skipped, testdata/qa/questions.tsv is absent");
        return ExitCode::SUCCESS;
    };
    let tmp = TempDir::new("chatbench");
    let mut env: Vec<(&str, String)> = vec![("OCRCHAT_MODEL", args.model.clone())];
    if let Some(url) = &args.llm_url {
        env.push(("OCRCHAT_LLM_URL", url.clone()));
        env.push(("OCRCHAT_LLM_MODEL", args.llm_model.clone()));
        env.push(("OCRCHAT_LLM_TIMEOUT_SECS", "600".into()));
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start(tmp.path(), &env_refs);
    let token = server.create_token("paid", 100_000);
    let mut jobs: HashMap<String, (String, Vec<String>)> = HashMap::new();
    for q in &questions {
        if !jobs.contains_key(&q.file) {
            jobs.insert(q.file.clone(), qa::ocr(&server, &token, &dir.join(&q.file)));
        }
    }

    // The answerer alone, in-process, on the same page texts (what the server
    // and the browser worker run): repeated for a stable distribution.
    let mut inproc = Vec::new();
    for _ in 0..args.repeat {
        for q in &questions {
            let pages = &jobs[&q.file].1;
            let t = Instant::now();
            std::hint::black_box(ocrchat_answer::answer(pages, &[], &q.question));
            inproc.push(t.elapsed());
        }
    }
    inproc.sort();

    let mut paths = vec![("built-in", run_path(&server, &token, &jobs, &questions, "builtin"))];
    if args.llm_url.is_some() {
        paths.push(("LLM", run_path(&server, &token, &jobs, &questions, "llm")));
    }

    let mut md = String::new();
    let files = jobs.len();
    let _ = writeln!(md, "## Chat\n");
    let _ = writeln!(
        md,
        "`bash bench/run.sh chat` (tests/src/bin/chatbench.rs): `shared/testdata/qa/questions.tsv` — {} questions \
         ({} answerable, {} unanswerable) about {files} files, OCR'd through the API by `ocrchat serve` \
         (`{}` model), then asked over HTTP. Right = the expected value in the answer (case, spaces and \
         punctuation ignored), a cited page with that value, every snippet verbatim in its page. \
         2-core shared machine; latencies are indicative.\n",
        questions.len(),
        paths[0].1.answerable,
        paths[0].1.unanswerable,
        args.model
    );
    let _ = writeln!(
        md,
        "| path | answerable right | unanswerable → no citation | \"does not say\" precision | HTTP p50 | HTTP p99 | answerer alone p50 / p99 |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    for (name, t) in &paths {
        let alone = if *name == "built-in" {
            format!("{:.2} / {:.2} ms ({} runs)", percentile(&inproc, 0.5), percentile(&inproc, 0.99), inproc.len())
        } else {
            "—".into()
        };
        let _ = writeln!(
            md,
            "| {name} | {}/{} ({:.0}%) | {}/{} | {}/{} | {:.1} ms | {:.1} ms | {alone} |",
            t.right,
            t.answerable,
            100.0 * t.right as f64 / t.answerable.max(1) as f64,
            t.unanswerable_uncited,
            t.unanswerable,
            t.declined_correctly,
            t.declined,
            percentile(&t.round_trips, 0.5),
            percentile(&t.round_trips, 0.99),
        );
    }
    if args.llm_url.is_none() {
        let _ = writeln!(
            md,
            "\nLLM path: not measured in this run (no local model was running; `scripts/local-llm.sh serve qwen-coder` \
             and `OCRCHAT_BENCH_LLM_URL=http://127.0.0.1:8081/v1 bash bench/run.sh chat` add it)."
        );
    }
    for (name, t) in &paths {
        if !t.misses.is_empty() {
            let _ = writeln!(md, "\nMissed by the {name} path:\n");
            for m in &t.misses {
                let _ = writeln!(md, "- {}", m.replace('|', "\\|"));
            }
        }
    }
    print!("\n{md}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &md).expect("write the markdown section");
    }
    ExitCode::SUCCESS
}
