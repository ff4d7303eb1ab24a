//! glibc malloc settings for `ocrchat serve` and `ocrchat ocr`, applied once
//! at start-up before the runtime's threads exist (Linux with glibc;
//! elsewhere nothing).
//!
//! What drives a long-running server's peak RSS besides the pages in
//! flight is memory freed but kept: glibc gives threads up to 8 arenas per
//! core, each keeping what a page freed in it, and after the first large
//! buffer is freed it raises its mmap threshold (up to 32 MiB), so later
//! page-sized buffers (rendered pages, input tensors, onnxruntime's per-run
//! blocks) land in those arenas instead of being mapped and unmapped. So:
//! - `M_ARENA_MAX` = one per inference pool thread, at least 2: the pages
//!   run on the pool's own threads, so more arenas only hold more freed
//!   memory (the API load bench's 621 MiB);
//! - `M_MMAP_THRESHOLD` = 1 MiB, fixed (which also stops the raising):
//!   every buffer of a page's size is mapped on allocation and given back to
//!   the system when freed, and so are the mid-sized ones of a page's work
//!   (onnxruntime's first arena regions of 1–2 MiB, tensors of a few rows);
//!   smaller ones stay in the arenas;
//! - after each page, [`release_freed`] gives back what the page freed
//!   inside the arenas (`malloc_trim`), which glibc otherwise keeps for the
//!   next allocation on that arena.
//!
//! Measured with `poolbench` (small, two workers, the 20-page PDF, three runs
//! each, 2026-12-02): peak RSS 387–404 MiB with a 4 MiB threshold,
//! 372–375 MiB trimming after each page, 338 MiB trimming with a 1 MiB
//! threshold, at the same CPU seconds. See `bench/results.md`, *Server
//! throughput*. An operator's own `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`
//! or `GLIBC_TUNABLES` wins: then nothing is changed here but the trimming.

/// Largest allocation (bytes) served from an arena; larger ones are mapped.
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// What [`tune`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tuning {
    /// Arenas capped and the mmap threshold fixed.
    Applied {
        /// The arena cap.
        arenas: usize,
    },
    /// The operator set glibc's variables; left as they are.
    OperatorSettings,
    /// Not glibc, or glibc refused a setting.
    Unavailable,
}

/// Applies the settings for a server reading `workers` pages at once. Call
/// it before starting threads.
pub fn tune(workers: usize) -> Tuning {
    let operator =
        ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"].iter().any(|v| std::env::var_os(v).is_some());
    if operator {
        return Tuning::OperatorSettings;
    }
    let arenas = workers.max(2);
    if set(Param::ArenaMax, arenas) && set(Param::MmapThreshold, MMAP_THRESHOLD) {
        Tuning::Applied { arenas }
    } else {
        Tuning::Unavailable
    }
}

/// Gives the free memory inside glibc's arenas back to the system: called
/// on a pool thread after each page, when that page's buffers are freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed() {
    // SAFETY: malloc_trim takes an integer and only returns free pages of
    // glibc's own heaps to the system (it takes the arena locks); no pointer
    // of ours is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Not glibc: nothing to give back this way.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() {}

/// The mallopt parameters used here.
#[derive(Clone, Copy)]
enum Param {
    ArenaMax,
    MmapThreshold,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set(param: Param, value: usize) -> bool {
    let param = match param {
        Param::ArenaMax => libc::M_ARENA_MAX,
        Param::MmapThreshold => libc::M_MMAP_THRESHOLD,
    };
    let Ok(value) = libc::c_int::try_from(value) else { return false };
    // SAFETY: mallopt takes two integers and only changes allocator settings;
    // glibc documents it as safe to call at any time (it takes the arena locks).
    unsafe { libc::mallopt(param, value) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set(_: Param, _: usize) -> bool {
    false
}
