//! `ocrchat serve`: opens the database `database_url` names (SQLite: one
//! server per data directory, enforced with a file lock; PostgreSQL: any
//! number of nodes), recovers jobs interrupted by a crash, starts the queue
//! workers and serves HTTP until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tracing::info;

use crate::blobs::local::LocalBlobs;
use crate::blobs::postgres::PgBlobs;
use crate::blobs::{BlobBackend, BlobStore};
use crate::config::Config;
use crate::jobs::now;
use crate::paths::{find_models_dir, find_web_dir};
use crate::state::AppState;
use crate::store::postgres::PgStore;
use crate::store::{self, Backend, Storage};
use crate::{api, queue};

/// Holds the data directory's lock for the life of the server.
pub struct DataDirLock(#[allow(dead_code)] std::fs::File);

/// Takes the data directory's lock (SQLite: one server per database file).
pub fn lock_data_dir(data_dir: &Path) -> anyhow::Result<DataDirLock> {
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

/// The database and the blob store `blob_store` names.
async fn open_storage(
    backend: &Backend,
    blob_store: BlobBackend,
    data_dir: &Path,
) -> anyhow::Result<(Arc<dyn Storage>, Arc<dyn BlobStore>)> {
    Ok(match (backend, blob_store) {
        (Backend::Postgres(url), BlobBackend::Database) => {
            let store = PgStore::open(url).await?;
            let blobs = Arc::new(PgBlobs::new(store.pool()));
            (Arc::new(store), blobs)
        }
        (_, BlobBackend::Database) => bail!("blob_store = \"database\" needs a postgres:// database_url"),
        (backend, BlobBackend::Local) => (store::open(backend).await?, Arc::new(LocalBlobs::new(data_dir))),
    })
}

/// Runs the server; `on_listen` gets the bound address (useful with port 0).
pub async fn run(config: Config, on_listen: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating {}", config.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&config.data_dir)?;
    let backend = Backend::from_url(config.database_url.as_deref(), &data_dir)?;
    // SQLite: the lock proves this is the only server on the file. PostgreSQL
    // nodes share the database (and may share a data directory) by design.
    let _lock = if backend.single_process() { Some(lock_data_dir(&data_dir)?) } else { None };
    let (store, blobs) = open_storage(&backend, config.blob_store, &data_dir)
        .await
        .with_context(|| format!("opening the database {}", backend.describe()))?;

    let models_dir = find_models_dir(config.models_dir.as_deref());
    let config = Config { data_dir: data_dir.clone(), ..config };
    let state = AppState::new(config, store, blobs, &models_dir)?;
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

    // SQLite: we hold the data directory's lock, so every `processing` job
    // was left by a process that is gone: requeue them all now rather than
    // waiting for their heartbeat to go stale. PostgreSQL: other nodes' jobs
    // are live; only stale heartbeats are requeued, at start as later.
    let stale_before = if backend.single_process() { i64::MAX } else { now() - state.config.stale_after_secs };
    queue::sweep(&state, stale_before).await?;
    state.store.forward_wakeups(Arc::clone(&state.queue_notify));
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
