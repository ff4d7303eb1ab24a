//! `ocrchat serve`: opens the data directory (one server per directory,
//! enforced with a file lock), recovers jobs interrupted by a crash, starts
//! the queue workers and serves HTTP until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use tracing::info;

use crate::config::Config;
use crate::paths::{find_models_dir, find_web_dir};
use crate::state::AppState;
use crate::store::sqlite::SqliteStore;
use crate::{api, queue};

/// Holds the data directory's lock for the life of the server.
pub struct DataDirLock(#[allow(dead_code)] std::fs::File);

/// Creates the data directory layout and takes its lock.
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<DataDirLock> {
    for sub in ["uploads", "results"] {
        std::fs::create_dir_all(data_dir.join(sub))
            .with_context(|| format!("creating {}", data_dir.join(sub).display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(data_dir.join("ocrchat.lock"))
        .context("opening the data directory lock")?;
    if file.try_lock().is_err() {
        bail!("another ocrchat server is using {}; one server per data directory", data_dir.display());
    }
    Ok(DataDirLock(file))
}

/// The database file inside a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ocrchat.sqlite3")
}

/// Runs the server; `on_listen` gets the bound address (useful with port 0).
pub async fn run(config: Config, on_listen: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&config.data_dir)?;
    let _lock = lock_data_dir(&data_dir)?;
    let store = SqliteStore::open(&database_path(&data_dir)).await.context("opening the database")?;

    let models_dir = find_models_dir(config.models_dir.as_deref());
    let config = Config { data_dir: data_dir.clone(), ..config };
    let state = AppState::new(config, Arc::new(store), &models_dir)?;
    if state.engines.installed().is_empty() {
        bail!(
            "no OCR models in {}; fetch them with `make models` or set models_dir / OCRCHAT_MODELS_DIR",
            models_dir.display()
        );
    }
    // Load the default model now: the first request should not pay for it,
    // and a broken model should stop the server at start, not mid-job.
    state.engines.for_language("auto").context("loading the default OCR model")?;
    let workers = state.config.workers.max(1);

    // We hold the data directory's lock, so every `processing` job was left
    // by a process that is gone: requeue them all now rather than waiting
    // for their heartbeat to go stale.
    queue::sweep(&state, i64::MAX).await?;
    queue::spawn(&state);

    let web_dir = find_web_dir(state.config.web_dir.as_deref());
    let app = api::router(state.clone(), web_dir.as_deref(), &models_dir);
    let listener = tokio::net::TcpListener::bind(&state.config.addr)
        .await
        .with_context(|| format!("binding {}", state.config.addr))?;
    let local = listener.local_addr()?;
    info!(%local, data_dir = %data_dir.display(), models = %models_dir.display(), web = ?web_dir, workers, "serving");
    on_listen(local);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutting down; unfinished jobs resume at the next start");
}
