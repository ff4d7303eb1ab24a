//! The server's `/openapi.json` checked against the server itself by
//! schemathesis (PyPI): it generates requests from the document — valid ones
//! and deliberately invalid ones — sends them to a real `ocrchat serve` on
//! loopback, and checks every answer against the document (status codes,
//! content types, headers, body schemas, no 5xx, invalid input refused,
//! valid input accepted). Bounded by `tests/schemathesis/schemathesis.toml`
//! (a few tens of examples per operation), which also lists the two
//! documented exceptions. `make test` installs schemathesis
//! (`scripts/install-schemathesis.sh`) and passes its path in
//! `OCRCHAT_SCHEMATHESIS`.

use std::process::Command;

use ocrchat_tests::server::{TempDir, TestServer};
use ocrchat_tests::workspace_root;

#[test]
fn schemathesis_finds_the_server_true_to_its_openapi_document() {
    let Ok(st) = std::env::var("OCRCHAT_SCHEMATHESIS") else {
        eprintln!("SKIP schemathesis: OCRCHAT_SCHEMATHESIS (the `st` executable) is not set; `make test` sets it");
        return;
    };
    let tmp = TempDir::new("schemathesis");
    // Generated requests come fast from one client: lift the per-caller
    // concurrency limit so 429s do not hide what the handlers answer.
    let server =
        TestServer::start(tmp.path(), &[("OCRCHAT_MODEL", "tiny"), ("OCRCHAT_MAX_INFLIGHT_PER_CALLER", "1000")]);
    let token = server.create_token("paid", 1_000_000);
    let config = workspace_root().join("tests/schemathesis/schemathesis.toml");
    let started = std::time::Instant::now();
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(&config)
        .args(["run", &server.url("/openapi.json"), "--url", &server.base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Reproducible runs: the same examples every time.
        .args(["--generation-deterministic", "--no-color", "--workers", "1"])
        .current_dir(tmp.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary (operations, test cases, failures) goes to the test log.
    eprintln!("schemathesis ({:.0} s):\n{stdout}\n{stderr}", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "schemathesis found the server and its OpenAPI document disagreeing (see above)");
}
