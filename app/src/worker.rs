//! The page's side of the OCR worker: spawn it, send [`Request`]s (file bytes
//! transferred, not copied), hand every [`Response`] to one callback.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::ArrayBuffer;
use ocrchat_worker::protocol::{self, Request, Response};
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker};

/// Where Trunk puts the worker's loader (`data-loader-shim`, no file hashes).
pub const WORKER_URL: &str = "./worker_loader.js";

/// Messages waiting for the worker's `started` (a message posted while its
/// wasm instantiates would find no handler and be lost). `None` once started.
type Pending = Rc<RefCell<Option<Vec<(JsValue, js_sys::Array)>>>>;

/// A running OCR worker.
pub struct OcrWorker {
    worker: Worker,
    pending: Pending,
}

impl OcrWorker {
    /// Starts the worker; `on_message` receives every response with its payload.
    pub fn spawn(on_message: impl Fn(Response, Option<ArrayBuffer>) + 'static) -> Result<Self, JsValue> {
        let worker = Worker::new(WORKER_URL)?;
        let pending: Pending = Rc::new(RefCell::new(Some(Vec::new())));
        let (w, p) = (worker.clone(), Rc::clone(&pending));
        let handler = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| match protocol::decode::<Response>(ev.data()) {
            Ok((Response::Started, _)) => {
                for (msg, transfer) in p.borrow_mut().take().unwrap_or_default() {
                    if let Err(e) = w.post_message_with_transfer(&msg, &transfer) {
                        web_sys::console::error_2(&"ocrchat: cannot post to the worker".into(), &e);
                    }
                }
            }
            Ok((msg, payload)) => on_message(msg, payload),
            Err(e) => web_sys::console::error_2(&"ocrchat: bad message from the worker".into(), &e),
        });
        worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        // Lives as long as the page.
        handler.forget();
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
