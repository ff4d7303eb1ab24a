//! Small browser helpers: file downloads, timers, the service worker.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Saves `bytes` as a file through a temporary object URL (nothing leaves the browser).
pub fn download(bytes: &js_sys::Uint8Array, filename: &str, mime: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(bytes);
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    // Revoke later: revoking at once can cancel the download in some browsers.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    web_sys::window()
        .ok_or("no window")?
        .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000)?;
    Ok(())
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Registers `sw.js` (offline use after the first visit). Only secure
/// contexts have service workers; elsewhere the app still works online.
/// Registers once per page load. Once it is active and the page is idle, it
/// is asked to cache the PDF worker too (see [`prefetch_pdf_worker_when_idle`]).
pub fn register_service_worker() {
    thread_local! {
        static REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if REGISTERED.with(|r| r.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else { return };
    let container = window.navigator().service_worker();
    if container.is_undefined() {
        return;
    }
    let promise = container.register("./sw.js");
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = JsFuture::from(promise).await {
            web_sys::console::warn_2(&"ocrchat: no offline mode (service worker not registered)".into(), &e);
            return;
        }
        if let Ok(ready) = container.ready()
            && let Ok(registration) = JsFuture::from(ready).await
        {
            prefetch_pdf_worker_when_idle(&container, registration.unchecked_into());
        }
    });
}

/// Asks the service worker to cache the PDF worker (twice the image worker's
/// size, so PDFs also read offline) — only once the page is idle, and never
/// when the visitor asked to save data (`navigator.connection.saveData`).
/// Without it, the first PDF fetches that worker on demand.
fn prefetch_pdf_worker_when_idle(
    container: &web_sys::ServiceWorkerContainer,
    registration: web_sys::ServiceWorkerRegistration,
) {
    let Some(window) = web_sys::window() else { return };
    let connection = js_sys::Reflect::get(&window.navigator(), &"connection".into()).unwrap_or(JsValue::UNDEFINED);
    let save_data = !connection.is_undefined()
        && js_sys::Reflect::get(&connection, &"saveData".into()).is_ok_and(|v| v.is_truthy());
    if save_data {
        return;
    }
    when_idle(move || registration.active());
    // A new release's service worker takes over with an empty cache: ask it too.
    let c = container.clone();
    let on_change = Closure::<dyn Fn()>::new(move || {
        let c = c.clone();
        when_idle(move || c.controller());
    });
    container.set_oncontrollerchange(Some(on_change.as_ref().unchecked_ref()));
    on_change.forget(); // lives as long as the page
}

/// Once the page is idle, posts `prefetch-pdf-worker` to the service worker `target` returns.
fn when_idle(target: impl FnOnce() -> Option<web_sys::ServiceWorker> + 'static) {
    let Some(window) = web_sys::window() else { return };
    let ask = Closure::once_into_js(move || {
        if let Some(sw) = target()
            && let Err(e) = sw.post_message(&"prefetch-pdf-worker".into())
        {
            web_sys::console::warn_2(&"ocrchat: cannot ask the service worker to cache the PDF worker".into(), &e);
        }
    });
    // Browsers without requestIdleCallback: after a pause instead.
    if window.request_idle_callback(ask.unchecked_ref()).is_err() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(ask.unchecked_ref(), 5_000);
    }
}
