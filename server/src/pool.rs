//! The inference pool: a fixed set of `workers` long-lived threads that read
//! pages, and the permits ([`Slot`]s) that hand them work. A page is decoded,
//! rendered and recognised only while its job holds a slot, so at most
//! `workers` pages (one per core by default, never more) are on the CPU and
//! in memory at once across every job; the pages of one job and of
//! different jobs queue for the same slots in arrival order.
//!
//! Why threads of its own rather than tokio's blocking pool: glibc gives a
//! thread that allocates an arena of its own (up to 8 per core) and keeps
//! what a page freed there for that arena's next use. Pages read on whichever
//! of up to 64 blocking threads happened to hold the permit spread page-sized
//! buffers over every arena (the API load bench peaked at 621 MiB); the same
//! few threads reuse the same few arenas. `alloc` caps the arenas as well.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{error, warn};

/// A task run on a pool thread.
type Task = Box<dyn FnOnce() + Send>;

/// The pool (see the module docs). Dropping the last handle ends its threads
/// once they finish what they run.
pub struct InferencePool {
    size: usize,
    permits: Arc<Semaphore>,
    tasks: Mutex<Sender<Task>>,
    busy: Gauge,
    peak: Gauge,
    most: Arc<AtomicI64>,
}

/// A turn on the pool: the right to read one page now. Hand it to
/// [`InferencePool::run`] with the page's work, or drop it.
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

/// The pool's permits are never closed while it exists; this is the error
/// if they were.
#[derive(Debug, thiserror::Error)]
#[error("the inference pool is shut down")]
pub struct PoolClosed;

impl InferencePool {
    /// `size` threads (at least one) named `ocrchat-page-N`. `busy` shows
    /// pages being read now, `peak` the most read at once since start.
    pub fn new(size: usize, busy: Gauge, peak: Gauge) -> std::io::Result<Self> {
        let size = size.max(1);
        let (tasks, queue) = channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..size {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("ocrchat-page-{n}")).spawn(move || serve(&queue))?;
        }
        let permits = Arc::new(Semaphore::new(size));
        Ok(Self { size, permits, tasks: Mutex::new(tasks), busy, peak, most: Arc::new(AtomicI64::new(0)) })
    }

    /// Pages read at once at most.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Waits for a free slot (first come, first served).
    pub async fn slot(&self) -> Result<Slot, PoolClosed> {
        Arc::clone(&self.permits).acquire_owned().await.map(Slot).map_err(|_| PoolClosed)
    }

    /// Runs `work` on a pool thread, giving `slot` back when it returns (or
    /// panics). There are as many threads as slots, so a thread is free.
    pub fn run(&self, slot: Slot, work: impl FnOnce() + Send + 'static) {
        let now = self.busy.inc() + 1;
        self.peak.set(self.most.fetch_max(now, Ordering::Relaxed).max(now));
        let busy = self.busy.clone();
        let task: Task = Box::new(move || {
            // Released however `work` ends: the slot is dropped on unwinding too.
            let _slot = slot;
            let _busy = Busy(busy);
            work();
        });
        let sent = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).send(task);
        if let Err(unsent) = sent {
            // The threads are gone (they never exit while the pool lives): read here instead.
            warn!("inference pool threads are gone; reading the page on the caller's thread");
            (unsent.0)();
        }
    }
}

/// Decrements the busy gauge when a task ends.
struct Busy(Gauge);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A pool thread: runs tasks until the pool is dropped.
fn serve(queue: &Mutex<Receiver<Task>>) {
    loop {
        // The lock is held only while taking a task, never while running one.
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(task) = next else { return };
        // Callers catch their own panics; this keeps the thread if one does not.
        if std::panic::catch_unwind(AssertUnwindSafe(task)).is_err() {
            error!("a task panicked on the inference pool");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_of_several_jobs_share_the_pool_and_never_exceed_its_size() {
        let pool = Arc::new(InferencePool::new(2, Gauge::default(), Gauge::default()).unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, usize)>();
        // Three jobs of four pages each, each dispatching as a job runner does.
        let mut jobs = Vec::new();
        for job in 0..3 {
            let (pool, running, most, threads, tx) =
                (Arc::clone(&pool), Arc::clone(&running), Arc::clone(&most), Arc::clone(&threads), tx.clone());
            jobs.push(tokio::spawn(async move {
                for page in 0..4 {
                    let slot = pool.slot().await.unwrap();
                    let (running, most, threads, tx) =
                        (Arc::clone(&running), Arc::clone(&most), Arc::clone(&threads), tx.clone());
                    pool.run(slot, move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        threads.lock().unwrap().insert(std::thread::current().name().map(str::to_string));
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        if page == 1 && job == 0 {
                            panic!("a page that panics frees its slot and keeps its thread");
                        }
                        tx.send((job, page)).unwrap();
                    });
                }
            }));
        }
        drop(tx);
        for job in jobs {
            job.await.unwrap();
        }
        let mut finished = Vec::new();
        while let Some(done) = rx.recv().await {
            finished.push(done);
        }
        assert_eq!(finished.len(), 11, "every page but the one that panicked: {finished:?}");
        assert_eq!(most.load(Ordering::SeqCst), 2, "two pages at once, never more");
        assert_eq!(pool.peak.get(), 2);
        // A task's slot and busy count are given back just after it sent its page.
        for _ in 0..100 {
            if pool.busy.get() == 0 && pool.permits.available_permits() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.busy.get(), 0);
        let threads = threads.lock().unwrap();
        assert!(threads.len() <= 2, "only the pool's own threads read pages: {threads:?}");
        assert!(threads.iter().all(|t| t.as_deref().is_some_and(|n| n.starts_with("ocrchat-page-"))), "{threads:?}");
        assert_eq!(pool.permits.available_permits(), 2, "the slots all came back");
    }
}
