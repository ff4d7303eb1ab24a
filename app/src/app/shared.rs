//! A multi-page PDF read by several workers when the device has cores (and
//! memory) to spare, by the rule of `ocrchat_worker::split`: the PDF worker
//! leads (it decides the text-layer pages in order, then reads pages like
//! the others and assembles the job), helpers — more instances of the PDF
//! build, started for this file — each read the next unread page until none
//! is left, then are terminated (their memory is the browser's again). The
//! helpers' pages are shown as they arrive and passed to the lead, so
//! exports and chat are the lead's, exactly as after a read alone.

use std::collections::{BTreeSet, HashMap};

use js_sys::ArrayBuffer;
use leptos::prelude::{GetValue, Update};
use ocrchat_worker::protocol::{Request, Response, Role};
use ocrchat_worker::split::{self, PageQueue};

use super::{AppState, WORKERS, Workers, models_url};
use crate::worker::{Build, OcrWorker};

/// The lead's number in a [`PageQueue`]; helpers count from 1.
const LEAD: usize = 0;

/// One file being read by a lead and its helpers.
pub(super) struct SharedRead {
    name: String,
    language: String,
    /// A copy of the file for the helpers that do not have theirs yet (the
    /// lead's was transferred); the last helper takes this one, so each
    /// helper costs one copy. Dropped when no helper is waiting.
    spare: Option<ArrayBuffer>,
    /// The pages left to OCR, once the lead has `planned`.
    queue: PageQueue,
    helpers: HashMap<usize, Helper>,
    /// Workers that read a page of the file (the lead always counts).
    read_by: BTreeSet<usize>,
}

struct Helper {
    worker: OcrWorker,
    /// It has the file (after its model was ready).
    has_file: bool,
}

/// `navigator.hardwareConcurrency` and `navigator.deviceMemory` (GiB), where
/// the browser gives them.
fn device() -> (Option<u32>, Option<f64>) {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else { return (None, None) };
    let cores = nav.hardware_concurrency();
    let cores = (cores.is_finite() && cores >= 1.0).then_some(cores as u32);
    let memory = js_sys::Reflect::get(&nav, &"deviceMemory".into()).ok().and_then(|m| m.as_f64());
    (cores, memory)
}

/// The role of the PDF worker for a new file: `lead` (with a copy of `buf`
/// kept for helpers) when this device affords more than one worker, else
/// `whole`, as before there were helpers. Its page count is not known yet:
/// the lead reads a one-page file whole, and `planned` decides the helpers.
pub(super) fn role_for(job: u32, name: &str, language: &str, buf: &ArrayBuffer) -> Role {
    let (cores, memory) = device();
    if split::worker_count(usize::MAX, cores, memory) < 2 {
        return Role::Whole;
    }
    let read = SharedRead {
        name: name.into(),
        language: language.into(),
        spare: Some(buf.slice(0)),
        queue: PageQueue::default(),
        helpers: HashMap::new(),
        read_by: BTreeSet::from([LEAD]),
    };
    WORKERS.with(|w| w.borrow_mut().shared.insert(job, read));
    Role::Lead
}

/// The lead opened the file: a one-page file is read whole, its copy for
/// helpers goes now.
pub(super) fn opened(job: u32, pages: u32) {
    if pages <= 1 {
        end(job);
    }
}

/// The read of `job` is over (done, failed or forgotten): its helpers are
/// terminated and the copy of the file dropped.
pub(super) fn end(job: u32) {
    let read = WORKERS.with(|w| {
        let w = &mut *w.borrow_mut();
        let read = w.shared.remove(&job);
        // The last shared read is over: the model chosen meanwhile loads now.
        if let Some(model) = w.deferred_load.take_if(|_| w.shared.is_empty()) {
            w.load(Build::Full, model);
        }
        read
    });
    drop(read);
}

/// The lead's `planned`: the pages to OCR are queued, helpers started as the
/// device affords (every helper running for other files counts), and the
/// lead given its first page.
pub(super) fn planned(state: AppState, job: u32, ocr: Vec<u32>) {
    let (cores, memory) = device();
    let workers = split::worker_count(ocr.len(), cores, memory);
    WORKERS.with(|w| {
        let w = &mut *w.borrow_mut();
        let running: usize = w.shared.values().map(|r| r.helpers.len()).sum();
        // Helpers read with the lead's model, whatever was chosen since.
        let model = w.full_model.unwrap_or_else(|| state.chosen_model.get_value());
        let Some(read) = w.shared.get_mut(&job) else { return };
        read.queue = PageQueue::new(ocr);
        let helpers = workers.saturating_sub(1).saturating_sub(running);
        for slot in 1..=helpers {
            let spawned = OcrWorker::spawn(Build::Full, move |msg, payload| on_helper(state, job, slot, msg, payload));
            match spawned {
                Ok(worker) => {
                    let load = Request::Load { model, models_url: models_url() };
                    worker.send(&load, None);
                    read.helpers.insert(slot, Helper { worker, has_file: false });
                }
                Err(e) => web_sys::console::warn_2(&"ocrchat: no helper worker".into(), &e),
            }
        }
        if read.helpers.is_empty() {
            read.spare = None;
        }
    });
    dispatch(job, LEAD);
}

/// The lead posted page `index` of `job`: the next page for it, if any.
pub(super) fn lead_read(job: u32, index: u32) {
    let next = WORKERS.with(|w| w.borrow_mut().shared.get_mut(&job).is_some_and(|r| r.queue.read(LEAD, index)));
    if next {
        dispatch(job, LEAD);
    }
}

/// Hands `slot` the next unread page of `job`; a helper with none left is
/// terminated.
fn dispatch(job: u32, slot: usize) {
    WORKERS.with(|w| {
        let w = &mut *w.borrow_mut();
        let Workers { running, shared, .. } = w;
        let Some(read) = shared.get_mut(&job) else { return };
        let worker = match slot {
            LEAD => running.get(&Build::Full),
            _ => read.helpers.get(&slot).filter(|h| h.has_file).map(|h| &h.worker),
        };
        let Some(worker) = worker else { return };
        match read.queue.next_for(slot) {
            Some(index) => worker.send(&Request::ReadPage { job, index }, None),
            None if slot != LEAD && read.queue.reading(slot).is_none() => {
                // Its share is done: terminating it frees its model and pages.
                read.helpers.remove(&slot);
            }
            None => {}
        }
    });
}

/// What a helper of `job` (number `slot`) posted.
fn on_helper(state: AppState, job: u32, slot: usize, msg: Response, payload: Option<ArrayBuffer>) {
    match msg {
        Response::Ready { .. } => give_file(job, slot),
        Response::Page { job: j, index, pages, page, preview_width, preview_height } if j == job => {
            let forward = Request::AddPage { job, page: page.clone() };
            let shown = Response::Page { job, index, pages, page, preview_width, preview_height };
            let known = WORKERS.with(|w| {
                let w = &mut *w.borrow_mut();
                let read = w.shared.get_mut(&job)?;
                read.read_by.insert(slot);
                read.queue.read(slot, index);
                if let Some(lead) = w.running.get(&Build::Full) {
                    lead.send(&forward, None);
                }
                Some(read.read_by.len() as u32)
            });
            // A page of a read that ended (failed, another batch) is not shown.
            let Some(workers) = known else { return };
            state.show_page(shown, payload);
            if let Some(card) = state.job(job) {
                card.update(|j| j.workers = workers);
            }
            dispatch(job, slot);
        }
        // A page that could not be read fails the file, as with one worker.
        Response::Error { job: Some(j), message }
            if j == job && WORKERS.with(|w| w.borrow().shared.contains_key(&job)) =>
        {
            end(job);
            state.fail(job, message);
        }
        // It could not start (or stopped): its page goes to the others, and
        // the lead reads everything if no helper is left.
        Response::Error { job: None, message } => {
            web_sys::console::warn_1(&format!("ocrchat: a helper worker stopped: {message}").into());
            let idle = WORKERS.with(|w| {
                let w = &mut *w.borrow_mut();
                let Some(read) = w.shared.get_mut(&job) else { return Vec::new() };
                read.queue.give_back(slot);
                read.helpers.remove(&slot);
                if read.helpers.values().all(|h| h.has_file) {
                    read.spare = None;
                }
                let mut idle: Vec<usize> = read.helpers.keys().copied().collect();
                idle.push(LEAD);
                idle
            });
            for slot in idle {
                dispatch(job, slot);
            }
        }
        _ => {}
    }
}

/// A helper's model is ready: it gets its copy of the file and a page, or
/// is terminated when the others left it nothing.
fn give_file(job: u32, slot: usize) {
    WORKERS.with(|w| {
        let w = &mut *w.borrow_mut();
        let Some(read) = w.shared.get_mut(&job) else { return };
        let waiting = read.helpers.values().filter(|h| !h.has_file).count();
        let copy = if read.queue.left() == 0 {
            None
        } else if waiting <= 1 {
            read.spare.take()
        } else {
            read.spare.as_ref().map(|b| b.slice(0))
        };
        let Some(bytes) = copy else {
            read.helpers.remove(&slot);
            if read.helpers.values().all(|h| h.has_file) {
                read.spare = None;
            }
            return;
        };
        let Some(helper) = read.helpers.get_mut(&slot) else { return };
        let ocr = Request::Ocr { job, name: read.name.clone(), language: read.language.clone(), role: Role::Help };
        helper.worker.send(&ocr, Some(bytes));
        helper.has_file = true;
    });
    dispatch(job, slot);
}
