//! A real `ocrchat serve` process for tests: temporary data directory, a
//! free port on loopback, configuration through `OCRCHAT_*` variables, and
//! `kill -9` for crash tests. The binary is the release build of this
//! workspace (`make test` builds it first; `OCRCHAT_BIN` overrides).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::{models_dir, workspace_root};

/// The `http://127.0.0.1:PORT` a spawned `ocrchat serve` (stdout piped)
/// prints once it listens, or `None` when it does not within `timeout`. The
/// rest of its stdout is drained in the background.
pub fn listening_address(child: &mut Child, timeout: Duration) -> Option<String> {
    let stdout = child.stdout.take().expect("ocrchat serve's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    rx.recv_timeout(timeout).ok()
}

/// The `ocrchat` binary under test.
pub fn ocrchat_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("OCRCHAT_BIN") {
        return PathBuf::from(bin);
    }
    // target/release/deps/<test> → target/release/ocrchat
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(Path::parent).map(|d| d.join("ocrchat")).expect("target dir");
    assert!(
        bin.is_file(),
        "{} missing: build it with `cargo build --release -p ocrchat` (make test's workspace test build makes it)",
        bin.display()
    );
    bin
}

/// A fresh directory under the target dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `target/test-tmp/<name>-<pid>-<n>`.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = workspace_root().join("target/test-tmp").join(format!(
            "{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
}

impl TestServer {
    /// The server process's id (a test may stop it to see what still works).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts a server on `data_dir` with extra `OCRCHAT_*` settings
    /// (e.g. `("OCRCHAT_ANON_DAILY_PAGES", "3")`).
    /// Starting it again on the same directory is how tests restart after a crash.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(ocrchat_bin());
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--models-dir")
            .arg(models_dir())
            .env("OCRCHAT_LOG", std::env::var("OCRCHAT_LOG").unwrap_or_else(|_| "warn,ocrchat=info".into()))
            // A test server never reads the developer's ocrchat.toml.
            .current_dir(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ocrchat serve");
        let base = match listening_address(&mut child, Duration::from_secs(60)) {
            Some(base) => base,
            None => {
                let _ = child.kill();
                panic!("ocrchat serve did not start within 60 s: {:?}", child.wait());
            }
        };
        Self { child, base, data_dir: data_dir.to_path_buf() }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Drop must not run again on a dead child; nothing else to clean.
        std::mem::forget(self);
    }

    /// Creates an account with the CLI; returns its token (the last stdout line).
    pub fn create_token(&self, plan: &str, credits: i64) -> String {
        create_token(&self.data_dir, plan, credits)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ocrchat token create --plan PLAN --credits N --data-dir DIR`; the token.
pub fn create_token(data_dir: &Path, plan: &str, credits: i64) -> String {
    let out = Command::new(ocrchat_bin())
        .args(["token", "create", "--plan", plan, "--credits", &credits.to_string(), "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run ocrchat token create");
    assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    stdout.lines().last().expect("a token line").trim().to_string()
}

/// Polls `f` every 100 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Files left in the server's upload directory.
pub fn uploads_left(data_dir: &Path) -> Vec<String> {
    std::fs::read_dir(data_dir.join("uploads"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// `fake_llm` (this crate's binary): a local stand-in for an OpenAI-compatible
/// VLM/LLM endpoint, killed on drop.
pub struct FakeLlm {
    child: Child,
    /// Base URL to configure as `vlm_url` / `llm_url`.
    pub base: String,
}

impl FakeLlm {
    /// Starts it on a free loopback port.
    pub fn start() -> Self {
        let exe = std::env::current_exe().expect("test executable path");
        let bin = exe.parent().and_then(Path::parent).map(|d| d.join("fake_llm")).expect("target dir");
        let mut child = Command::new(&bin)
            .env("FAKE_LLM_MAX_SECS", "900")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("fake_llm prints its address");
        let base = line.trim().strip_prefix("listening on ").expect("listening line").to_string();
        Self { child, base }
    }

    /// Server settings that point both the vlm tier and chat at this fake.
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        vec![("OCRCHAT_VLM_URL", self.base.clone()), ("OCRCHAT_VLM_MODEL", "fake-vision".into())]
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
