//! `ocrchat serve`: opens the database `database_url` names (SQLite: one
//! server per data directory, enforced with a file lock; PostgreSQL: any
//! number of nodes), recovers jobs interrupted by a crash, starts the queue
//! workers and serves HTTP until SIGINT/SIGTERM.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use ocrchat_engine::{DecodeLimits, EngineConfig, ModelSize};
use tokio::sync::{Notify, Semaphore};
use tracing::info;

use crate::blobs::local::LocalBlobs;
use crate::blobs::postgres::PgBlobs;
use crate::blobs::{BlobBackend, BlobStore};
use crate::config::Config;
use crate::engines::Engines;
use crate::jobs::now;
use crate::llm::{LlmClient, LlmConfig};
use crate::metrics::Metrics;
use crate::paths::{find_models_dir, find_web_dir};
use crate::state::AppState;
use crate::store::postgres::PgStore;
use crate::store::{self, Backend, Storage};
use crate::{api, queue};

/// Holds the data directory's lock for the life of the server.
pub struct DataDirLock(#[allow(dead_code)] std::fs::File);

/// Creates the data directory layout.
fn create_layout(data_dir: &Path) -> anyhow::Result<()> {
    for sub in ["uploads", "results"] {
        std::fs::create_dir_all(data_dir.join(sub))
            .with_context(|| format!("creating {}", data_dir.join(sub).display()))?;
    }
    Ok(())
}

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
    create_layout(&data_dir)?;
    let backend = Backend::from_url(config.database_url.as_deref(), &data_dir)?;
    // SQLite: the lock proves this is the only server on the file. PostgreSQL
    // nodes share the database (and may share a data directory) by design.
    let _lock = if backend.single_process() { Some(lock_data_dir(&data_dir)?) } else { None };
    let (store, blobs) = open_storage(&backend, config.blob_store, &data_dir)
        .await
        .with_context(|| format!("opening the database {}", backend.describe()))?;

    let models_dir = find_models_dir(config.models_dir.as_deref());
    let size = ModelSize::parse(&config.model)
        .with_context(|| format!("model must be tiny or small, not {:?}", config.model))?;
    let limits = DecodeLimits { max_pixels: config.max_page_pixels, ..DecodeLimits::default() };
    let engines = Engines::new(&models_dir, size, EngineConfig { limits, ..EngineConfig::default() });
    if engines.installed().is_empty() {
        bail!(
            "no OCR models in {}; fetch them with `make models` or set models_dir / OCRCHAT_MODELS_DIR",
            models_dir.display()
        );
    }
    // Load the default model now: the first request should not pay for it,
    // and a broken model should stop the server at start, not mid-job.
    engines.for_language("auto").context("loading the default OCR model")?;

    let (vlm, llm) = llm_clients(&config)?;
    let workers = config.workers.max(1);
    let state = AppState {
        store,
        blobs,
        engines: Arc::new(engines),
        inference: Arc::new(Semaphore::new(workers)),
        queue_notify: Arc::new(Notify::new()),
        running: Arc::new(Mutex::new(HashSet::new())),
        inflight: Arc::new(Mutex::new(HashMap::new())),
        submissions: Arc::new(Semaphore::new(config.max_inflight_total.max(1))),
        metrics: Arc::new(Metrics::default()),
        worker_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        uploads_dir: data_dir.join("uploads"),
        results_dir: data_dir.join("results"),
        vlm,
        llm,
        config: Arc::new(Config { data_dir: data_dir.clone(), ..config }),
    };

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

/// The vlm and chat clients from `vlm_*` / `llm_*` settings; chat falls back
/// to the vlm endpoint (a VLM also chats) when no separate one is set.
fn llm_clients(config: &Config) -> anyhow::Result<(Option<LlmClient>, Option<LlmClient>)> {
    let make = |role: &str,
                url: Option<&String>,
                model: Option<&String>,
                key: Option<&String>|
     -> anyhow::Result<Option<LlmClient>> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else { return Ok(None) };
        let model = model
            .filter(|m| !m.trim().is_empty())
            .with_context(|| format!("{role}_url is set but {role}_model is not"))?;
        let mut llm = LlmConfig::new(url.trim(), model.trim());
        llm.api_key = key.cloned();
        llm.timeout_secs = config.llm_timeout_secs;
        Ok(Some(LlmClient::new(llm).with_context(|| format!("configuring the {role} endpoint"))?))
    };
    let vlm = make("vlm", config.vlm_url.as_ref(), config.vlm_model.as_ref(), config.vlm_api_key.as_ref())?;
    let chat = make(
        "llm",
        config.llm_url.as_ref().or(config.vlm_url.as_ref()),
        config.llm_model.as_ref().or(config.vlm_model.as_ref()),
        config.llm_api_key.as_ref().or(config.vlm_api_key.as_ref()),
    )?;
    Ok((vlm, chat))
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
