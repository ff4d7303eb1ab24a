//! Scale-out on PostgreSQL, as an operator runs it: three `ocrchat serve`
//! processes on one database, each with its own data directory (uploads and
//! result PDFs in the database: `blob_store = "database"`, so the nodes share
//! nothing else), jobs submitted round-robin and polled on every node, one
//! node `kill -9`'d mid-run and restarted. Also: the page cap holds across nodes
//! under concurrent submissions, and a bad database URL stops the server at
//! start with one line.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use ocrchat_tests::pdfgen::scanned_pdf;
use ocrchat_tests::server::{TempDir, TestServer, ocrchat_bin, uploads_left, wait_for};
use ocrchat_tests::{postgres, testdata_or_skip};
use reqwest::blocking::{Client, multipart};
use serde_json::Value;

fn client() -> Client {
    Client::builder().timeout(Duration::from_secs(120)).build().unwrap()
}

fn create_token(url: &str, plan: &str, credits: i64) -> String {
    let out = Command::new(ocrchat_bin())
        .args(["token", "create", "--plan", plan, "--credits", &credits.to_string(), "--database-url", url])
        .output()
        .expect("run ocrchat token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_string()
}

fn submit(base: &str, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::blocking::Response {
    let form = multipart::Form::new().part("file", multipart::Part::bytes(bytes).file_name(name.to_string()));
    client().post(format!("{base}/api/v1/ocr/")).bearer_auth(token).multipart(form).send().unwrap()
}

fn get_json(base: &str, token: &str, path: &str) -> Value {
    let resp = client().get(format!("{base}{path}")).bearer_auth(token).send().unwrap();
    assert_eq!(resp.status(), 200, "{path} on {base}");
    resp.json().unwrap()
}

/// Pages processed by one node, from its `/metrics`.
fn pages_processed(base: &str) -> u64 {
    let text = client().get(format!("{base}/metrics")).send().unwrap().text().unwrap();
    text.lines()
        .filter(|l| l.starts_with("ocrchat_pages_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A small page: the top of the phototest scan (a few lines of text).
fn small_page() -> Option<image::RgbImage> {
    let dir = testdata_or_skip("cluster")?;
    let img = image::open(dir.join("tess_phototest.png")).unwrap().to_rgb8();
    let h = img.height() / 3;
    Some(image::imageops::crop_imm(&img, 0, 0, img.width(), h).to_image())
}

fn used_pages(url: &str, subject: &str) -> i64 {
    scalar(url, "SELECT COALESCE(SUM(pages), 0)::BIGINT FROM usage WHERE subject = $1", subject)
}

fn scalar(url: &str, sql: &'static str, arg: &str) -> i64 {
    let (url, subject) = (url.to_string(), arg.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar::<_, i64>(sql).bind(subject).fetch_one(&mut conn).await.unwrap()
        })
    })
    .join()
    .unwrap()
}

fn node_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OCRCHAT_DATABASE_URL", url.to_string()),
        ("OCRCHAT_MODEL", "tiny".into()),
        ("OCRCHAT_WORKERS", "1".into()),
        // Every job goes through the shared queue (none is answered inline).
        ("OCRCHAT_INLINE_MAX_PAGES", "0".into()),
        ("OCRCHAT_MAX_INFLIGHT_PER_CALLER", "100".into()),
        ("OCRCHAT_STALE_AFTER_SECS", "6".into()),
        ("OCRCHAT_SWEEP_INTERVAL_SECS", "1".into()),
        ("OCRCHAT_BLOB_STORE", "database".into()),
    ]
}

fn start(dir: &std::path::Path, env: &[(&'static str, String)]) -> TestServer {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestServer::start(dir, &env)
}

#[test]
fn three_nodes_survive_a_kill_and_charge_every_page_once() {
    let Some(page) = small_page() else { return };
    let Some(url) = postgres::fresh_database("cluster_drill") else { return };
    let started = Instant::now();
    let dirs: Vec<TempDir> = (0..3).map(|n| TempDir::new(&format!("cluster-node{n}"))).collect();
    let env = node_env(&url);
    let mut nodes: Vec<Option<TestServer>> = dirs.iter().map(|d| Some(start(d.path(), &env))).collect();
    let bases: Vec<String> = nodes.iter().map(|n| n.as_ref().unwrap().base.clone()).collect();
    let token = create_token(&url, "paid", 1000);

    // 20 jobs of 1–8 pages, round-robin over the nodes.
    let mut jobs = Vec::new();
    for i in 0..20 {
        let pages = 1 + (i * 3) % 8;
        let pdf = scanned_pdf(&vec![&page; pages], 150.0);
        let base = &bases[i % 3];
        let resp = submit(base, &token, &format!("job{i}.pdf"), pdf);
        assert_eq!(resp.status(), 200, "submission {i} on {base}");
        let job: Value = resp.json().unwrap();
        jobs.push((job["uuid"].as_str().unwrap().to_string(), pages as i64));
    }
    let total_pages: i64 = jobs.iter().map(|(_, p)| p).sum();

    // Once work is under way on node 0, kill it; restart it a little later.
    wait_for(Duration::from_secs(120), || {
        let done: i64 = jobs
            .iter()
            .map(|(uuid, _)| {
                get_json(&bases[1], &token, &format!("/api/v1/ocr/{uuid}/"))["pages_done"].as_i64().unwrap()
            })
            .sum();
        (done >= 5).then_some(())
    })
    .expect("work started");
    nodes[0].take().unwrap().kill9();
    std::thread::sleep(Duration::from_secs(3));
    nodes[0] = Some(start(dirs[0].path(), &env));
    let bases: Vec<String> = nodes.iter().map(|n| n.as_ref().unwrap().base.clone()).collect();

    // Every job ends done with every page, polled round-robin.
    let mut polls = 0usize;
    let finished = wait_for(Duration::from_secs(300), || {
        let mut all = HashMap::new();
        for (i, (uuid, _)) in jobs.iter().enumerate() {
            polls += 1;
            let j = get_json(&bases[(i + polls) % 3], &token, &format!("/api/v1/ocr/{uuid}/"));
            if !matches!(j["status"].as_str(), Some("done" | "failed")) {
                return None;
            }
            all.insert(uuid.clone(), j);
        }
        Some(all)
    })
    .expect("every job finishes");
    for (uuid, pages) in &jobs {
        let j = &finished[uuid];
        assert_eq!(j["status"], "done", "{uuid}: {}", j["error"]);
        assert_eq!((j["page_count"].as_i64(), j["pages_done"].as_i64()), (Some(*pages), Some(*pages)));
        assert_eq!(j["pages"].as_array().unwrap().len() as i64, *pages);
        assert!(j["text"].as_str().unwrap().contains("point text"), "{uuid}: {}", j["text"]);
    }
    // Charged exactly once: the account used the sum of the pages.
    let account_used = used_pages(&url, "acct:1");
    assert_eq!(account_used, total_pages, "pages charged exactly once");
    // No page recognised twice by the nodes alive now (the killed node's
    // count died with it): two nodes on one job would push this over.
    let processed: u64 = bases.iter().map(|b| pages_processed(b)).sum();
    assert!(processed <= total_pages as u64, "{processed} pages processed for {total_pages}");
    // Every result downloads from every node, in every format.
    for (uuid, _) in jobs.iter().take(4) {
        for base in &bases {
            for format in ["txt", "md", "docx", "pdf", "csv", "json"] {
                let resp = client()
                    .get(format!("{base}/api/v1/ocr/{uuid}/download/?format={format}"))
                    .bearer_auth(&token)
                    .send()
                    .unwrap();
                assert_eq!(resp.status(), 200, "{uuid} as {format} from {base}");
                assert!(!resp.bytes().unwrap().is_empty());
            }
        }
    }
    // No upload left behind: none in the database, none staged on any node.
    let uploads = scalar(&url, "SELECT COUNT(*) FROM blobs WHERE kind = $1", "upload");
    assert_eq!(uploads, 0, "upload blobs left behind");
    for dir in &dirs {
        let staged: Vec<String> = uploads_left(dir.path()).into_iter().filter(|f| !f.contains(".upload.")).collect();
        assert!(staged.is_empty(), "{staged:?}");
    }
    eprintln!(
        "cluster drill: 3 nodes, {} jobs, {total_pages} pages, one kill -9; {processed} pages processed by the live nodes; {:.1} s",
        jobs.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn concurrent_submissions_over_three_nodes_never_pass_the_cap() {
    let Some(page) = small_page() else { return };
    let Some(url) = postgres::fresh_database("cluster_cap") else { return };
    let tmp = TempDir::new("cluster-cap");
    let mut env = node_env(&url);
    env.push(("OCRCHAT_FREE_MONTHLY_PAGES", "10".into()));
    let nodes: Vec<TestServer> = (0..3).map(|_| start(tmp.path(), &env)).collect();
    let token = create_token(&url, "free", 0);
    let png = {
        let mut bytes = Vec::new();
        image::DynamicImage::ImageRgb8(page)
            .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        bytes
    };
    let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let (base, token, png) = (nodes[i % 3].base.clone(), token.clone(), png.clone());
                scope.spawn(move || {
                    let resp = submit(&base, &token, "one.png", png);
                    (resp.status().as_u16(), resp.json::<Value>().unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = outcomes.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(accepted, 10, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 402, "{body}");
        assert_eq!((body["used"].as_i64(), body["cap"].as_i64()), (Some(10), Some(10)), "{body}");
    }
}

#[test]
fn a_bad_database_url_stops_the_server_with_one_line() {
    let tmp = TempDir::new("bad-db");
    for (url, expect) in [
        ("postgres://nobody@127.0.0.1:1/none", "opening the database postgres://nobody@127.0.0.1:1/none"),
        ("mysql://u:secret@h/db", "unsupported database URL"),
    ] {
        let started = Instant::now();
        let out = Command::new(ocrchat_bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path())
            .args(["--models-dir"])
            .arg(ocrchat_tests::models_dir())
            .env("OCRCHAT_DATABASE_URL", url)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(30), "{url}: no retry storm");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{url}: one line, got {stderr}");
        assert!(lines[0].starts_with("error: ") && lines[0].contains(expect), "{url}: {stderr}");
        assert!(!stderr.contains("secret") && !stderr.contains("panicked"), "{stderr}");
    }
}

/// A PostgreSQL of this test's own (it is stopped and restarted mid-run).
struct PrivatePostgres(std::path::PathBuf);

impl PrivatePostgres {
    fn script(&self, cmd: &str) -> String {
        let out = Command::new(ocrchat_tests::workspace_root().join("scripts/postgres.sh"))
            .arg(cmd)
            .arg(&self.0)
            .output()
            .expect("scripts/postgres.sh");
        assert!(out.status.success(), "postgres.sh {cmd}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.script("stop");
    }
}

#[test]
fn a_database_that_goes_away_means_503_until_it_returns() {
    // Needs PostgreSQL like the other tests here; the server itself is private.
    if postgres::fresh_database("db_gone").is_none() {
        return;
    }
    let Some(page) = small_page() else { return };
    let dir = std::env::temp_dir().join(format!("ocrchat-pg-gone-{}", std::process::id()));
    let pg = PrivatePostgres(dir);
    let url = pg.script("start").lines().last().unwrap().to_string();
    let tmp = TempDir::new("db-gone");
    let node = start(tmp.path(), &node_env(&url));
    let token = create_token(&url, "paid", 100);
    let pdf = scanned_pdf(&[&page, &page], 150.0);
    let job: Value = submit(&node.base, &token, "two.pdf", pdf.clone()).json().unwrap();
    let path = format!("/api/v1/ocr/{}/", job["uuid"].as_str().unwrap());
    let status = |p: &str| client().get(format!("{}{p}", node.base)).bearer_auth(&token).send().unwrap().status();
    assert_eq!(status("/readyz"), 200);

    pg.script("pause");
    let went = Instant::now();
    for p in ["/readyz", path.as_str()] {
        let got = wait_for(Duration::from_secs(30), || (status(p) == 503).then_some(()));
        assert!(got.is_some(), "{p} answers 503 while the database is away");
    }
    let refused = submit(&node.base, &token, "two.pdf", pdf);
    assert_eq!(refused.status(), 503, "submissions too");
    eprintln!("database away: 503 after {:.1} s", went.elapsed().as_secs_f64());

    pg.script("resume");
    let back = Instant::now();
    wait_for(Duration::from_secs(60), || (status("/readyz") == 200).then_some(())).expect("recovers by itself");
    eprintln!("database back: ready again after {:.1} s", back.elapsed().as_secs_f64());
    let done = wait_for(Duration::from_secs(120), || {
        let j = get_json(&node.base, &token, &path);
        (j["status"] == "done").then_some(j)
    })
    .expect("the job submitted before the outage finishes: none lost");
    assert_eq!(done["pages_done"], 2);
}
