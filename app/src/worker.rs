//! The page's side of the OCR worker: spawn it, send [`Request`]s (file bytes
//! transferred, not copied), hand every [`Response`] to one callback.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::ArrayBuffer;
use ocrchat_core::{InputFormat, sniff};
use ocrchat_worker::protocol::{self, Request, Response};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

/// The two builds of the OCR worker (Trunk, `www/index.html`). The first
/// visit downloads only `Lite`; `Full` is started when a PDF arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Build {
    /// Images in, every export: what a first visit downloads.
    Lite,
    /// Lite plus PDF input (hayro, ~45% of the wasm).
    Full,
}

impl Build {
    /// The worker's loader script (`www/*_loader.js`; no file hashes).
    fn url(self) -> &'static str {
        match self {
            Build::Lite => "./worker_loader.js",
            Build::Full => "./worker_full_loader.js",
        }
    }

    /// The build that reads a file starting with `head` (its first
    /// [`SNIFF_BYTES`](ocrchat_core::sniff::SNIFF_BYTES)): PDFs need `Full`. The engine's own sniffing rule.
    pub fn for_file(head: &[u8]) -> Self {
        if sniff(head) == Ok(InputFormat::Pdf) { Build::Full } else { Build::Lite }
    }
}

/// Messages waiting for the worker's `started` (a message posted while its
/// wasm instantiates would find no handler and be lost). `None` once started.
type Pending = Rc<RefCell<Option<Vec<(JsValue, js_sys::Array)>>>>;

/// A running OCR worker.
pub struct OcrWorker {
    worker: Worker,
    pending: Pending,
}

impl OcrWorker {
    /// Starts a worker of `build`; `on_message` receives every response with its payload.
    pub fn spawn(build: Build, on_message: impl Fn(Response, Option<ArrayBuffer>) + 'static) -> Result<Self, JsValue> {
        let worker = Worker::new(build.url())?;
        let pending: Pending = Rc::new(RefCell::new(Some(Vec::new())));
        let on_message = Rc::new(on_message);
        let (w, p, deliver) = (worker.clone(), Rc::clone(&pending), Rc::clone(&on_message));
        let handler = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            match protocol::decode::<Response>(ev.data()) {
                Ok((Response::Started, _)) => {
                    for (msg, transfer) in p.borrow_mut().take().unwrap_or_default() {
                        if let Err(e) = w.post_message_with_transfer(&msg, &transfer) {
                            web_sys::console::error_2(&"ocrchat: cannot post to the worker".into(), &e);
                        }
                    }
                }
                Ok((msg, payload)) => deliver(msg, payload),
                Err(e) => web_sys::console::error_2(&"ocrchat: bad message from the worker".into(), &e),
            }
        });
        worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        // A script that cannot load (offline before it was ever cached) never
        // posts `started`: report it like a failed model load.
        let failed = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            // A script that fails to load fires a plain `Event`, not an `ErrorEvent`.
            let detail = ev.dyn_ref::<web_sys::ErrorEvent>().map(|e| e.message()).filter(|m| !m.is_empty());
            let message = match detail {
                Some(m) => format!("the OCR worker stopped: {m}"),
                None => "the OCR worker could not be loaded (offline before it was ever cached?)".to_string(),
            };
            on_message(Response::Error { job: None, message }, None);
        });
        worker.set_onerror(Some(failed.as_ref().unchecked_ref()));
        // Both live as long as the page.
        handler.forget();
        failed.forget();
        Ok(Self { worker, pending })
    }

    /// Sends `req`; a payload is transferred (the caller's buffer is emptied).
    pub fn send(&self, req: &Request, payload: Option<ArrayBuffer>) {
        let transfer = protocol::transfer_list(payload.as_ref());
        let sent = protocol::encode(req, payload.as_ref()).and_then(|msg| match self.pending.borrow_mut().as_mut() {
            Some(queue) => {
                queue.push((msg, transfer));
                Ok(())
            }
            None => self.worker.post_message_with_transfer(&msg, &transfer),
        });
        if let Err(e) = sent {
            web_sys::console::error_2(&"ocrchat: cannot post to the worker".into(), &e);
        }
    }
}

impl Drop for OcrWorker {
    /// A worker that is dropped (it failed to start) must not linger.
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
