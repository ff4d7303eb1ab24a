//! The native onnxruntime backend (cargo feature `onnxruntime`, never in
//! wasm32): the same PP-OCR graphs as rten — the recogniser with the same
//! rewritten CTC head (`ctc_head`) — behind [`DetectionModel`] / [`RecognitionModel`].
//!
//! The library is not linked: it is loaded at run time from the file
//! `scripts/fetch-onnxruntime.sh` extracts from the pinned `onnxruntime` PyPI
//! wheel (sha256-checked), or from `OCRCHAT_ONNXRUNTIME_LIB`. A build or a
//! machine without it still runs, on rten ([`crate::Runtime::Auto`]).

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::{RunOptions, Session};
use ort::value::Tensor;
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;

use crate::ctc_head::{BEST_CLASS, BEST_PROB, Charset};
use crate::error::{BoxError, EngineError, Result};
use crate::model::{DetectionModel, FrameBest, Normalization, RecognitionModel, ctc_graph_for_charset, invalid};

/// The onnxruntime release the `ort` crate's API level (31) was made for and
/// the one `scripts/fetch-onnxruntime.sh` installs (keep the two in step).
pub const LIBRARY_VERSION: &str = "1.31.1";

/// Where the library is looked for: `OCRCHAT_ONNXRUNTIME_LIB`, else the
/// fetch script's cache (`$OCRCHAT_CACHE_DIR`, else `$XDG_CACHE_HOME/ocrchat`,
/// else `~/.cache/ocrchat`, then `onnxruntime/<version>/`).
pub fn library_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OCRCHAT_ONNXRUNTIME_LIB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let env_dir = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = env_dir("OCRCHAT_CACHE_DIR")
        .or_else(|| env_dir("XDG_CACHE_HOME").map(|d| d.join("ocrchat")))
        .or_else(|| env_dir("HOME").map(|h| h.join(".cache").join("ocrchat")))?;
    Some(cache.join("onnxruntime").join(LIBRARY_VERSION).join(format!("libonnxruntime.so.{LIBRARY_VERSION}")))
}

fn unavailable(source: impl Into<BoxError>) -> EngineError {
    EngineError::RuntimeUnavailable { runtime: "onnxruntime", source: source.into() }
}

/// The process's onnxruntime environment, loading the library on first use.
/// The outcome is kept: a missing library is looked for once per process.
pub(crate) fn environment() -> Result<Environment> {
    static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let path = library_path().ok_or("no library path (set OCRCHAT_ONNXRUNTIME_LIB or HOME)")?;
        if !path.is_file() {
            return Err(format!("{} not found", path.display()));
        }
        let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
        builder.with_name("ocrchat").build().map_err(|e| e.to_string())
    });
    env.clone().map_err(unavailable)
}

/// How the sessions of one graph run (from [`crate::EngineConfig`]'s
/// `threads`, `sessions` and `bounded_memory`, and the graph's role).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionSettings {
    /// Intra-op threads of one run (0 = one per core).
    pub threads: usize,
    /// Runs at once, each on a session of its own (0 or 1: callers take turns).
    pub sessions: usize,
    /// Give a run's working memory back when it ends instead of keeping it
    /// in the session's arena for the next run (see [`SessionPool::make`]).
    pub release_memory: bool,
    /// The input's shape changes from run to run: no memory pattern. With
    /// one (onnxruntime's default, right for a graph that sees a few shapes
    /// again and again, like the detector's strips of a page) a run's working
    /// memory is planned as one block per input shape. A recogniser's input
    /// width changes with every line, so each line planned and took a block
    /// of its own shape from the arena; without a pattern each tensor takes
    /// a free chunk, and the arena follows the widest line's live tensors.
    /// heaptrack of `ocrchat serve` (small, two workers, `poolbench`'s PDF):
    /// heap peak 415 → 383 MB, recogniser arena live at the peak 92 → 67 MB,
    /// the same CPU (102.4 vs 102.0 s, 20 pages); the peak RSS moves as
    /// much between runs (436–461 MiB, five runs, 428–462 before).
    pub varying_shapes: bool,
}

/// Sessions of one graph. `Session::run` needs `&mut`, and the server reads
/// several pages with one engine at once: each concurrent caller takes its
/// own session, up to `max` (the server's workers); beyond that callers wait
/// for a free one. The graph bytes are kept only while more sessions may be
/// made — with `max = 1` (the CLI) they are dropped after loading, otherwise
/// when the last session is made (small's recogniser graph is 21 MB) — and
/// the sessions share their prepacked weights. `poolbench` (small, 2
/// workers, one run each): 545 → 519 MiB peak RSS from dropping the bytes,
/// 545 → 532 MiB from sharing the weights; the peak moves ±15 MiB between
/// runs of one build, so these are by construction more than by measurement.
struct SessionPool {
    name: String,
    settings: SessionSettings,
    max: usize,
    prepacked: ort::session::builder::PrepackedWeights,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Session>,
    made: usize,
    onnx: Option<Arc<[u8]>>,
}

impl SessionPool {
    fn new(name: &str, onnx: Vec<u8>, settings: SessionSettings) -> Result<Self> {
        let max = settings.sessions.max(1);
        let prepacked = ort::session::builder::PrepackedWeights::new();
        // Load one now: a broken graph fails at load time, not on the first page.
        let first = Self::make(name, &onnx, settings, &prepacked)?;
        let onnx = (max > 1).then(|| Arc::from(onnx));
        let state = PoolState { idle: vec![first], made: 1, onnx };
        Ok(Self { name: name.into(), settings, max, prepacked, state: Mutex::new(state), freed: Condvar::new() })
    }

    /// One session. With `release_memory` it has no CPU memory arena: an
    /// arena keeps the largest working set any run needed (the detector's
    /// activations on a 300-dpi page are hundreds of MB) for the session's
    /// life, once per session — with two pages at once the server held two
    /// such peaks per graph for good. Without it a run takes its planned
    /// block (memory patterns stay on: one block per run, not one allocation
    /// per operator) and frees it at the end. Measured with `poolbench` (6
    /// pages of the scanned PDF, 2 workers, malloc tuned as in the server):
    /// tiny 741 → 442 MiB peak RSS for ~10% more CPU (fresh pages are
    /// faulted in again), small ~1,000 → 590 MiB for ~30% more CPU; memory
    /// patterns off as well saved 40 MiB more for +30% CPU on tiny (turned
    /// off for the detector alone on 2026-12-01, two workers: no steady
    /// saving, 15–25% more CPU).
    fn make(
        name: &str,
        onnx: &[u8],
        settings: SessionSettings,
        prepacked: &ort::session::builder::PrepackedWeights,
    ) -> Result<Session> {
        let fail = |e: String| invalid(name, e);
        let env = environment()?;
        let mut builder = Session::builder(&env).map_err(|e| fail(e.to_string()))?;
        // One page per core is the server's unit of parallelism: a run uses
        // `threads` intra-op threads (0 = onnxruntime's default, one per
        // core), never inter-op threads, and no spinning — idle spinning
        // workers would burn the CPU the other pages need.
        let set = |r: ort::session::builder::BuilderResult| r.map_err(|e| fail(e.to_string()));
        builder = set(builder.with_intra_threads(settings.threads))?;
        builder = set(builder.with_inter_threads(1))?;
        builder = set(builder.with_intra_op_spinning(false))?;
        builder = set(builder.with_inter_op_spinning(false))?;
        // One copy of the weights in the layouts the kernels want, for every session of the graph.
        builder = set(builder.with_prepacked_weights(prepacked))?;
        if settings.release_memory {
            let cpu = ort::ep::CPU::default().with_arena_allocator(false).build();
            builder = set(builder.with_execution_providers([cpu]))?;
        }
        if settings.varying_shapes {
            builder = set(builder.with_memory_pattern(false))?;
        }
        builder.commit_from_memory(onnx).map_err(|e| fail(e.to_string()))
    }

    /// A session of its own for one run: an idle one, a new one while fewer
    /// than `max` exist, else the next one freed.
    fn take(&self) -> Result<Session> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(s) = state.idle.pop() {
                return Ok(s);
            }
            if state.made < self.max
                && let Some(onnx) = state.onnx.clone()
            {
                state.made += 1;
                if state.made == self.max {
                    // The last session: the bytes go when it is made (`onnx` is the last handle).
                    state.onnx = None;
                }
                drop(state);
                let made = Self::make(&self.name, &onnx, self.settings, &self.prepacked);
                if made.is_err() {
                    // Put back for the next try (a failed load is an error, not the end of the pool).
                    let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    state.made -= 1;
                    state.onnx.get_or_insert(onnx);
                }
                return made;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, session: Session) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).idle.push(session);
        self.freed.notify_one();
    }

    /// Runs the graph on its single input; `extract` reads what it needs of
    /// the outputs (copying it out) before the session goes back to the pool.
    /// With `after` = [`AfterRun::Shrink`] a session with an arena gives back
    /// what the run grew it by.
    fn run<T>(
        &self,
        input: NdTensor<f32, 4>,
        after: AfterRun,
        extract: impl FnOnce(&ort::session::SessionOutputs) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let failed = |e: String| EngineError::Inference { model: self.name.clone(), source: e.into() };
        let mut session = self.take()?;
        let shape = input.shape();
        let data = input.into_data();
        let shrink = after == AfterRun::Shrink && !self.settings.release_memory;
        let result = (|| {
            let tensor = Tensor::from_array((shape, data)).map_err(|e| e.to_string())?;
            let mut options = RunOptions::new().map_err(|e| e.to_string())?;
            if shrink {
                // Frees the arena's regions that no live tensor uses once the run ends.
                options.set("memory.enable_memory_arena_shrinkage", "cpu:0").map_err(|e| e.to_string())?;
            }
            let outputs = session.run_with_options(ort::inputs![tensor], &options).map_err(|e| e.to_string())?;
            extract(&outputs)
        })();
        self.give_back(session);
        result.map_err(failed)
    }
}

/// Copies an output tensor of rank `N` out of onnxruntime.
fn tensor_of<T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug, const N: usize>(
    value: &ort::value::DynValue,
) -> std::result::Result<NdTensor<T, N>, String> {
    let (out_shape, values) = value.try_extract_tensor::<T>().map_err(|e| e.to_string())?;
    let dims: [usize; N] = out_shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|d: Vec<usize>| format!("output of rank {} (expected {N})", d.len()))?;
    Ok(NdTensor::from_data(dims, values.to_vec()))
}

/// What a session's memory arena does when a run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterRun {
    /// Keeps what the run needed for the next run.
    Keep,
    /// Gives back the arena's unused regions: after the last line of a
    /// page. onnxruntime grows an arena in doubling regions and keeps them,
    /// so the recognisers' arenas (small, two workers) held 122 MB at the
    /// server's heap peak (heaptrack), while their workers rendered and
    /// detected — when the detector's working set peaks. Growing back costs
    /// page faults once per page, not once per line as an arena-less session
    /// does (+19% CPU). `poolbench` (small, 2 workers, 2 cores): peak RSS
    /// 518–527 → 428–462 MiB at the same CPU seconds.
    Shrink,
}

/// A PP-OCR DB detection network executed by onnxruntime.
pub struct OrtDetector {
    pool: SessionPool,
}

impl OrtDetector {
    /// Loads ONNX bytes, run as `settings` say.
    pub fn from_bytes(name: &str, onnx: Vec<u8>, settings: SessionSettings) -> Result<Self> {
        Ok(Self { pool: SessionPool::new(name, onnx, settings)? })
    }
}

impl DetectionModel for OrtDetector {
    fn normalization(&self) -> Normalization {
        Normalization::PPOCR_DET
    }

    fn run(&self, input: NdTensor<f32, 4>) -> Result<NdTensor<f32, 4>> {
        self.pool.run(input, AfterRun::Keep, |outputs| {
            let first = outputs.values().next().ok_or("no output")?;
            tensor_of(&first)
        })
    }
}

/// A PP-OCR CTC recognition network executed by onnxruntime, with its
/// dictionary; the head is pruned to `charset` exactly as for rten.
pub struct OrtRecognizer {
    pool: SessionPool,
    alphabet: Vec<String>,
}

impl OrtRecognizer {
    /// Loads ONNX bytes and the dictionary, keeping only the classes `charset`
    /// can emit, run as `settings` say.
    pub fn with_charset(
        name: &str,
        onnx: &[u8],
        dict: &str,
        charset: Charset,
        settings: SessionSettings,
    ) -> Result<Self> {
        let (onnx, alphabet) = ctc_graph_for_charset(name, onnx, dict, charset)?;
        Ok(Self { pool: SessionPool::new(name, onnx, settings)?, alphabet })
    }

    fn run_then(&self, input: NdTensor<f32, 4>, after: AfterRun) -> Result<FrameBest> {
        let best = self.pool.run(input, after, |outputs| {
            let output = |name| outputs.get(name).ok_or_else(|| format!("no output {name}"));
            let class: NdTensor<i64, 2> = tensor_of(output(BEST_CLASS)?)?;
            // A class is never negative; one that were would fail the check below.
            let class = class.map(|&c| u32::try_from(c).unwrap_or(u32::MAX));
            Ok(FrameBest { class, prob: tensor_of(output(BEST_PROB)?)? })
        })?;
        best.checked(&self.pool.name, self.alphabet.len() + 2)
    }
}

impl RecognitionModel for OrtRecognizer {
    fn normalization(&self) -> Normalization {
        Normalization::PPOCR_REC
    }

    fn alphabet(&self) -> &[String] {
        &self.alphabet
    }

    fn run(&self, input: NdTensor<f32, 4>) -> Result<FrameBest> {
        self.run_then(input, AfterRun::Keep)
    }

    fn run_last(&self, input: NdTensor<f32, 4>) -> Result<FrameBest> {
        self.run_then(input, AfterRun::Shrink)
    }
}
