//! Shared server state handed to every handler and background task.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use ocrchat_engine::{DecodeLimits, EngineConfig, ModelSize, Runtime};
use tokio::sync::{Notify, Semaphore};

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::llm::{Capabilities, LlmClient, LlmConfig};
use crate::metrics::Metrics;
use crate::pool::InferencePool;
use crate::store::Storage;
use ocrchat_engine::Engines;

/// Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Persistence.
    pub store: Arc<dyn Storage>,
    /// Uploads and result PDFs.
    pub blobs: Arc<dyn BlobStore>,
    /// OCR engines.
    pub engines: Arc<Engines>,
    /// Where pages are read: `config.workers` threads, one page each.
    pub pool: Arc<InferencePool>,
    /// Wakes queue workers when a job is queued.
    pub queue_notify: Arc<Notify>,
    /// Jobs this process is working on (their heartbeat is kept fresh).
    pub running: Arc<Mutex<HashSet<String>>>,
    /// Requests in flight per caller (concurrency limit).
    pub inflight: Arc<Mutex<HashMap<String, i64>>>,
    /// Submissions being handled across all callers.
    pub submissions: Arc<Semaphore>,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// This process's identity in job claims.
    pub worker_id: String,
    /// `<data_dir>/uploads`: uploads are staged here (and kept, with local blobs).
    pub uploads_dir: PathBuf,
    /// `<data_dir>/results`: result PDFs are rendered here (and kept, with local blobs).
    pub results_dir: PathBuf,
    /// Vision model for `tier=vlm`, when configured.
    pub vlm: Option<LlmClient>,
    /// Chat model (chat, `translate` on the cpu tier), when configured.
    pub llm: Option<LlmClient>,
}

/// Removes a caller's in-flight request when dropped.
pub struct InflightGuard {
    map: Arc<Mutex<HashMap<String, i64>>>,
    key: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n <= 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Removes a job from the running set when dropped.
pub struct RunningGuard {
    set: Arc<Mutex<HashSet<String>>>,
    uuid: String,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.uuid);
    }
}

impl AppState {
    /// The state of a server with this configuration over `store` and
    /// `blobs`, OCR models from `models_dir` (loaded on first use) and the model
    /// endpoints the configuration names. `config.data_dir` must exist; its
    /// `uploads` and `results` directories are created. No background task
    /// is started (`queue::spawn` does that).
    pub fn new(
        config: Config,
        store: Arc<dyn Storage>,
        blobs: Arc<dyn BlobStore>,
        models_dir: &Path,
    ) -> anyhow::Result<Self> {
        let size = ModelSize::parse(&config.model)
            .with_context(|| format!("model must be tiny or small, not {:?}", config.model))?;
        let limits = DecodeLimits { max_pixels: config.max_page_pixels, ..DecodeLimits::default() };
        let runtime = Runtime::parse(&config.runtime)
            .with_context(|| format!("runtime must be auto, rten or onnxruntime, not {:?}", config.runtime))?;
        // `workers` pages run at once on the pool, each on its share of the
        // cores (one thread each by default: pages scale better than the
        // operators inside one page), each with a recogniser session of its
        // own; `bounded_memory`: detector runs give their working memory back,
        // and half the workers detect at once (see `EngineConfig::bounded_memory`).
        let workers = config.workers.max(1);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / workers).max(1);
        let engines = Engines::new(
            models_dir,
            size,
            EngineConfig {
                limits,
                runtime,
                threads,
                sessions: workers,
                bounded_memory: true,
                int8: config.int8,
                ..EngineConfig::default()
            },
        );
        let client = |role: &str, endpoint: Option<LlmConfig>| -> anyhow::Result<Option<LlmClient>> {
            endpoint.map(|e| LlmClient::new(e).with_context(|| format!("configuring the {role} endpoint"))).transpose()
        };
        let vlm = client("vlm", config.vlm_endpoint()?)?;
        let llm = client("llm", config.chat_endpoint()?)?;
        let (uploads_dir, results_dir) = (config.data_dir.join("uploads"), config.data_dir.join("results"));
        for dir in [&uploads_dir, &results_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let metrics = Arc::new(Metrics::default());
        let pool = InferencePool::new(workers, metrics.inference_busy.clone(), metrics.inference_peak.clone())
            .context("starting the inference pool's threads")?;
        Ok(AppState {
            store,
            blobs,
            engines: Arc::new(engines),
            pool: Arc::new(pool),
            queue_notify: Arc::new(Notify::new()),
            running: Arc::new(Mutex::new(HashSet::new())),
            inflight: Arc::new(Mutex::new(HashMap::new())),
            submissions: Arc::new(Semaphore::new(config.max_inflight_total.max(1))),
            metrics,
            worker_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            uploads_dir,
            results_dir,
            vlm,
            llm,
            config: Arc::new(config),
        })
    }

    /// Counts a request for `owner`; `None` when `limit` (including
    /// `already_running` unfinished jobs) is reached.
    pub fn enter_inflight(&self, owner: &str, already_running: i64, limit: i64) -> Option<InflightGuard> {
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(owner.to_string()).or_insert(0);
        if *n + already_running >= limit {
            if *n == 0 {
                map.remove(owner);
            }
            return None;
        }
        *n += 1;
        Some(InflightGuard { map: Arc::clone(&self.inflight), key: owner.to_string() })
    }

    /// Marks a job as being worked on by this process.
    pub fn enter_running(&self, uuid: &str) -> RunningGuard {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(uuid.to_string());
        RunningGuard { set: Arc::clone(&self.running), uuid: uuid.to_string() }
    }

    /// What this server can run (for tool/tier/language validation).
    pub fn capabilities(&self) -> Capabilities {
        Capabilities::new(&self.engines.languages(), self.vlm.is_some(), self.llm.is_some())
    }

    /// Snapshot of the running set.
    pub fn running_jobs(&self) -> Vec<String> {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect()
    }
}
