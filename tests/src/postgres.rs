//! The real PostgreSQL of the tests: `make test` (scripts/test.sh) starts one
//! with `scripts/postgres.sh` and exports its admin URL as
//! `OCRCHAT_TEST_DATABASE_URL`; each test gets a database of its own.
//! `OCRCHAT_TEST_POSTGRES=skip` is the only way to skip these tests, and they
//! say so; without either variable they fail, naming what is missing.

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

/// A new, empty database on the test server; `None` (after printing `SKIP`)
/// only when PostgreSQL tests are explicitly disabled.
pub fn fresh_database(test: &str) -> Option<String> {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    if std::env::var("OCRCHAT_TEST_POSTGRES").is_ok_and(|v| v == "skip") {
        eprintln!("SKIP {test} on PostgreSQL: OCRCHAT_TEST_POSTGRES=skip");
        return None;
    }
    let admin = std::env::var("OCRCHAT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "{test} needs PostgreSQL: set OCRCHAT_TEST_DATABASE_URL (`make test` starts one with \
             scripts/postgres.sh) or OCRCHAT_TEST_POSTGRES=skip to skip it"
        )
    });
    let name = format!(
        "ocrchat_{}_{}_{}",
        test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect::<String>(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let admin2 = admin.clone();
    let name2 = name.clone();
    // Own thread and runtime: callers may be sync tests or inside a runtime.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(&admin2).await.expect("connecting to the test PostgreSQL");
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name2}")).execute(&mut conn).await.expect("drop");
            sqlx::query(&format!("CREATE DATABASE {name2}")).execute(&mut conn).await.expect("create database");
        });
    })
    .join()
    .expect("creating a test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}
