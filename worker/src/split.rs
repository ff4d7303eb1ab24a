//! How a host spreads one multi-page file over several OCR workers: how many
//! workers the device can afford ([`worker_count`]), and which page each
//! reads next ([`PageQueue`]). Pure rules, no JavaScript: the app applies
//! them to `navigator.hardwareConcurrency` and `navigator.deviceMemory`, and
//! they are unit-tested natively.

use std::collections::VecDeque;

/// At most this many workers read one file: past it the page's main thread
/// and the memory of the extra model copies cost more than the pages gain.
pub const MAX_WORKERS: usize = 4;

/// Memory one PDF worker holds while reading, in MiB: its wasm engine, the
/// model and a 300-dpi page's working set. Measured on the A4 page under
/// Node (process RSS less a bare Node's), read in `auto` then `en` (the
/// pruned recogniser made beside the full one): tiny 172 MiB, small 248 MiB.
pub const WORKER_MIB: f64 = 256.0;

/// Share of the device's memory (`navigator.deviceMemory`) the OCR workers
/// may hold together: the page, the browser and the rest of the system
/// keep the other three quarters.
pub const MEMORY_SHARE: f64 = 0.25;

/// How many workers read a file with `pages` pages to OCR: one per page, one
/// core left to the page's own thread (`hardware_concurrency - 1`), at most
/// [`MAX_WORKERS`], and no more than [`MEMORY_SHARE`] of `device_memory_gib`
/// at [`WORKER_MIB`] each. Never less than one. `None` for an unknown value
/// (a browser that does not say): cores unknown means one worker, memory
/// unknown means no memory bound.
pub fn worker_count(pages: usize, hardware_concurrency: Option<u32>, device_memory_gib: Option<f64>) -> usize {
    let cores = hardware_concurrency.map_or(1, |n| (n as usize).saturating_sub(1));
    let memory = device_memory_gib
        .filter(|gib| gib.is_finite() && *gib > 0.0)
        .map_or(usize::MAX, |gib| (gib * 1024.0 * MEMORY_SHARE / WORKER_MIB).floor() as usize);
    pages.min(cores).min(MAX_WORKERS).min(memory).max(1)
}

/// The pages of one file still to be read, handed out one at a time to
/// whichever worker is free (pages differ in cost: a worker that finishes
/// early takes the next page instead of idling at the end of a fixed range).
/// Workers are numbered by the host; a page is out with at most one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageQueue {
    /// Not handed out yet, in page order.
    todo: VecDeque<u32>,
    /// (worker, page) handed out and not read yet.
    out: Vec<(usize, u32)>,
}

impl PageQueue {
    /// A queue of `pages` (zero-based indices), read in this order.
    pub fn new(pages: impl IntoIterator<Item = u32>) -> Self {
        Self { todo: pages.into_iter().collect(), out: Vec::new() }
    }

    /// The next page for `worker`, which has none out (one page at a time
    /// keeps every worker's memory at one page); `None` when it has one or
    /// none is left.
    pub fn next_for(&mut self, worker: usize) -> Option<u32> {
        if self.reading(worker).is_some() {
            return None;
        }
        let page = self.todo.pop_front()?;
        self.out.push((worker, page));
        Some(page)
    }

    /// The page `worker` is reading, if any.
    pub fn reading(&self, worker: usize) -> Option<u32> {
        self.out.iter().find(|(w, _)| *w == worker).map(|(_, p)| *p)
    }

    /// `worker` read `page`. `false` when that page was not out with it (a
    /// page it read before the queue existed, or a stray message).
    pub fn read(&mut self, worker: usize, page: u32) -> bool {
        let before = self.out.len();
        self.out.retain(|&(w, p)| (w, p) != (worker, page));
        self.out.len() < before
    }

    /// `worker` is gone: the page it had goes back to the front, for the next
    /// free worker. Returns that page.
    pub fn give_back(&mut self, worker: usize) -> Option<u32> {
        let page = self.reading(worker)?;
        self.out.retain(|(w, _)| *w != worker);
        self.todo.push_front(page);
        Some(page)
    }

    /// Pages not handed out yet.
    pub fn left(&self) -> usize {
        self.todo.len()
    }

    /// Every page was handed out and read.
    pub fn is_finished(&self) -> bool {
        self.todo.is_empty() && self.out.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_worker_per_page_up_to_the_spare_cores_and_the_cap() {
        // hardwareConcurrency 8 leaves 7 cores; the cap is 4.
        assert_eq!(worker_count(10, Some(8), None), MAX_WORKERS);
        assert_eq!(worker_count(3, Some(8), None), 3, "never more workers than pages");
        assert_eq!(worker_count(10, Some(3), None), 2, "one core stays with the page");
        assert_eq!(worker_count(10, Some(2), None), 1);
        assert_eq!(worker_count(10, Some(1), None), 1);
        assert_eq!(worker_count(10, Some(0), None), 1, "a nonsense count still reads");
        assert_eq!(worker_count(10, None, None), 1, "unknown cores: one worker");
        assert_eq!(worker_count(0, Some(8), None), 1, "at least one worker");
        assert_eq!(worker_count(1, Some(8), Some(8.0)), 1);
    }

    #[test]
    fn memory_bounds_the_workers() {
        // A quarter of 8 GiB is 2 GiB: eight workers of 256 MiB, not binding.
        assert_eq!(worker_count(10, Some(16), Some(8.0)), MAX_WORKERS);
        // A quarter of 2 GiB: two workers.
        assert_eq!(worker_count(10, Some(16), Some(2.0)), 2);
        // A quarter of 1 GiB or less: one.
        assert_eq!(worker_count(10, Some(16), Some(1.0)), 1);
        assert_eq!(worker_count(10, Some(16), Some(0.25)), 1);
        // Values a browser should not give are ignored, not trusted.
        assert_eq!(worker_count(10, Some(4), Some(f64::NAN)), 3);
        assert_eq!(worker_count(10, Some(4), Some(-1.0)), 3);
        assert_eq!(worker_count(10, Some(4), Some(0.0)), 3);
    }

    #[test]
    fn pages_go_in_order_to_whichever_worker_is_free() {
        let mut q = PageQueue::new([0, 2, 3, 5]);
        assert_eq!(q.next_for(0), Some(0));
        assert_eq!(q.next_for(0), None, "one page at a time per worker");
        assert_eq!(q.next_for(1), Some(2));
        // Worker 1 is fast: it takes the next page, worker 0 still reads page 0.
        assert!(q.read(1, 2));
        assert_eq!(q.next_for(1), Some(3));
        assert!(q.read(1, 3));
        assert_eq!(q.next_for(1), Some(5));
        assert_eq!(q.left(), 0);
        assert_eq!(q.next_for(1), None);
        assert!(!q.is_finished(), "pages 0 and 5 are out");
        assert!(q.read(0, 0));
        assert!(q.read(1, 5));
        assert!(q.is_finished());
        assert_eq!(q.next_for(0), None);
    }

    #[test]
    fn a_page_read_that_was_not_handed_out_changes_nothing() {
        let mut q = PageQueue::new([1, 2]);
        assert!(!q.read(0, 0), "a text-layer page the lead read while planning");
        assert_eq!(q.next_for(0), Some(1));
        assert!(!q.read(1, 1), "page 1 is out with worker 0, not 1");
        assert_eq!(q.reading(0), Some(1));
        assert!(q.read(0, 1));
        assert!(!q.read(0, 1), "read twice");
    }

    #[test]
    fn a_lost_worker_gives_its_page_back_to_the_front() {
        let mut q = PageQueue::new([0, 1, 2]);
        assert_eq!(q.next_for(0), Some(0));
        assert_eq!(q.next_for(1), Some(1));
        assert_eq!(q.give_back(1), Some(1));
        assert_eq!(q.give_back(1), None, "nothing left with it");
        assert!(q.read(0, 0));
        assert_eq!(q.next_for(0), Some(1), "the lost page comes first");
        assert!(q.read(0, 1));
        assert_eq!(q.next_for(0), Some(2));
        assert!(q.read(0, 2));
        assert!(q.is_finished());
    }
}
