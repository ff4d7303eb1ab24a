//! The dedicated Web Worker: receives [`Request`]s, runs them one at a time
//! through a [`Session`], posts [`Response`]s with transferred payloads.
//! Model files come from the Cache API when present (second visit: no
//! download) and are checked against the manifest's sha256 before caching.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use js_sys::{ArrayBuffer, Uint8Array};
use ocrchat_engine::registry::{self, Plan, TESSDATA_DIR, TESSDATA_MANIFEST};
use ocrchat_engine::tesseract::{Readers, trial_packs};
use ocrchat_engine::{EngineConfig, ModelEngines, ModelSize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, DedicatedWorkerGlobalScope, MessageEvent};

use crate::protocol::{self, LanguageChoice, Request, Response, Role};
use crate::session::Session;
use crate::tesseract::{self, JsBackend, TessLib};

/// Cache API bucket for model files (keys carry the sha256, so a new model
/// version is a new entry and never a stale hit).
const MODEL_CACHE: &str = "ocrchat-models-v1";

struct State {
    session: Session,
    queue: VecDeque<JsValue>,
    busy: bool,
    /// What the server offers for Tesseract, once a `load` has read it.
    tess: Option<Rc<TessOffer>>,
}

/// The server's `tessdata/manifest.json`: each file by name → (URL, sha256).
struct TessOffer {
    packs: HashMap<String, (String, String)>,
    wasm: HashMap<String, (String, String)>,
    /// tesseract-wasm's module and wasm binary, once imported.
    runtime: RefCell<Option<Rc<TessRuntime>>>,
}

/// tesseract-wasm's module and the wasm binary every instance is made from.
type TessRuntime = (TessLib, Vec<u8>);

thread_local! {
    static STATE: Rc<RefCell<State>> =
        Rc::new(RefCell::new(State { session: Session::new(), queue: VecDeque::new(), busy: false, tess: None }));
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Installs the message handler. Called once by the worker's `main`.
pub fn start() {
    console_error_panic_hook::set_once();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(|ev: MessageEvent| {
        let start_loop = STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.queue.push_back(ev.data());
            !std::mem::replace(&mut s.busy, true)
        });
        if start_loop {
            wasm_bindgen_futures::spawn_local(drain());
        }
    });
    scope().set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    post(&Response::Started, None);
}

/// Handles queued requests in order until the queue is empty. Requests are
/// serialised because loading is async and an `ocr` must wait for its model.
async fn drain() {
    loop {
        let next = STATE.with(|s| {
            let mut s = s.borrow_mut();
            let next = s.queue.pop_front();
            if next.is_none() {
                s.busy = false;
            }
            next
        });
        let Some(msg) = next else { break };
        handle(msg).await;
    }
}

/// Posts `resp`, transferring `payload` (one copy out of wasm memory, none
/// across threads).
pub fn post(resp: &Response, payload: Option<Vec<u8>>) {
    let buf = payload.map(|v| Uint8Array::from(&v[..]).buffer());
    let sent = protocol::encode(resp, buf.as_ref())
        .and_then(|msg| scope().post_message_with_transfer(&msg, &protocol::transfer_list(buf.as_ref())));
    if let Err(e) = sent {
        web_sys::console::error_2(&"ocrchat worker: cannot post".into(), &e);
    }
}

fn fail(job: Option<u32>, message: String) {
    web_sys::console::warn_1(&format!("ocrchat worker: {message}").into());
    post(&Response::Error { job, message }, None);
}

/// `e`'s message followed by every source's.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(&format!(": {s}"));
        next = s.source();
    }
    out
}

/// Reports `e` to the host (its message) and to the console (with every source).
fn fail_with(job: Option<u32>, e: &dyn std::error::Error) {
    web_sys::console::warn_1(&format!("ocrchat worker: {}", chain(e)).into());
    post(&Response::Error { job, message: e.to_string() }, None);
}

/// Why a model could not be loaded. Failures of browser APIs arrive as JS
/// values: their text is all there is to keep.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("{url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url}: HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("{url}: cannot read the body")]
    Body { url: String },
    #[error("bad manifest.json")]
    Manifest(#[source] serde_json::Error),
    #[error("no {0} model in the engine's catalog")]
    NotInCatalog(ModelSize),
    #[error("{0} is not in the server's models/manifest.json")]
    NotInManifest(&'static str),
    #[error("manifest entry without {0}")]
    ManifestField(&'static str),
    #[error("{url}: sha256 {actual} does not match the manifest")]
    Checksum { url: String, actual: String },
    #[error("the dictionary is not UTF-8")]
    Dictionary(#[source] std::string::FromUtf8Error),
    #[error(transparent)]
    Engine(#[from] ocrchat_engine::EngineError),
    #[error("the server offers no {0} for Tesseract (tessdata/manifest.json)")]
    NotOffered(String),
    #[error("{0}")]
    Tesseract(String),
}

async fn handle(msg: JsValue) {
    let (req, payload) = match protocol::decode::<Request>(msg) {
        Ok(x) => x,
        Err(e) => return fail(None, format!("bad request: {}", js_text(&e))),
    };
    match req {
        Request::Load { model, models_url } => match load(model, &models_url).await {
            Ok(resp) => post(&resp, None),
            Err(e) => fail(None, format!("cannot load the {model} model: {}", chain(&e))),
        },
        Request::Ocr { job, name, language, role } => {
            let Some(buf) = payload else { return fail(Some(job), "ocr request without file bytes".into()) };
            let bytes = Uint8Array::new(&buf).to_vec();
            drop(buf);
            if let Err(e) = load_packs_for(&language).await {
                return fail_with(Some(job), &e);
            }
            let state = STATE.with(Rc::clone);
            let mut result = {
                let session = &mut state.borrow_mut().session;
                match role {
                    Role::Whole => session.ocr(job, &name, bytes, &language, &mut |r, p| post(&r, p)),
                    Role::Lead => session.lead(job, &name, bytes, &language, &mut |r, p| post(&r, p)),
                    Role::Help => session.help(job, &name, bytes, &language),
                }
            };
            // `auto` met a page in a script PP-OCR does not read: the script
            // trial needs every candidate pack. Fetched once, then the file is
            // read again (its pages are posted afresh after a new `opened`).
            if let Err(e) = &result
                && e.pack_not_loaded().is_some()
            {
                result = match load_packs(&auto_candidates()).await {
                    Ok(()) => state.borrow_mut().session.retry(job, &mut |r, p| post(&r, p)),
                    Err(e) => {
                        state.borrow_mut().session.abandon(job);
                        return fail_with(Some(job), &e);
                    }
                };
            }
            if let Err(e) = result {
                fail_with(Some(job), &e);
            }
        }
        Request::ReadPage { job, index } => {
            let state = STATE.with(Rc::clone);
            let mut result = state.borrow_mut().session.read_page(job, index, &mut |r, p| post(&r, p));
            // The same pack rule as a whole read, for this page alone.
            if let Err(e) = &result
                && e.pack_not_loaded().is_some()
            {
                result = match load_packs(&auto_candidates()).await {
                    Ok(()) => state.borrow_mut().session.read_page(job, index, &mut |r, p| post(&r, p)),
                    Err(e) => return fail_with(Some(job), &e),
                };
            }
            if let Err(e) = result {
                fail_with(Some(job), &e);
            }
        }
        Request::AddPage { job, page } => {
            let result = STATE.with(|s| s.borrow_mut().session.add_page(job, page, &mut |r, p| post(&r, p)));
            if let Err(e) = result {
                fail_with(Some(job), &e);
            }
        }
        Request::Sniff { job } => {
            let head = payload.map(|buf| Uint8Array::new(&buf).to_vec()).unwrap_or_default();
            post(&Session::sniff(job, &head), None);
        }
        Request::Export { job, format } => {
            let result = STATE.with(|s| s.borrow().session.export(job, format));
            match result {
                Ok((resp, bytes)) => post(&resp, Some(bytes)),
                Err(e) => fail_with(Some(job), &e),
            }
        }
        Request::Ask { job, question } => {
            let result = STATE.with(|s| s.borrow_mut().session.ask(job, &question));
            match result {
                Ok(resp) => post(&resp, None),
                Err(e) => fail_with(Some(job), &e),
            }
        }
        Request::Forget { job } => STATE.with(|s| s.borrow_mut().session.forget(job)),
    }
}

/// Loads `model` unless it is the current one.
async fn load(model: ModelSize, models_url: &str) -> Result<Response, LoadError> {
    let spec = *registry::CATALOG.iter().find(|m| m.size == model).ok_or(LoadError::NotInCatalog(model))?;
    let cache = open_cache().await;
    load_offer(cache.as_ref(), models_url).await;
    let languages = languages(spec.languages);
    if STATE.with(|s| s.borrow().session.model() == Some(model)) {
        return Ok(Response::Ready { model, cached: true, languages });
    }
    let manifest = fetch_manifest(cache.as_ref(), &format!("{models_url}manifest.json")).await?;
    let entry = manifest["models"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["name"] == spec.name))
        .ok_or(LoadError::NotInManifest(spec.name))?;
    let mut files = Vec::new();
    let mut cached = true;
    for part in ["det", "rec", "dict"] {
        let file = entry[part]["file"].as_str().ok_or(LoadError::ManifestField("file"))?;
        let sha = entry[part]["sha256"].as_str().ok_or(LoadError::ManifestField("sha256"))?;
        let (bytes, hit) = fetch_model_file(cache.as_ref(), &format!("{models_url}{file}"), sha).await?;
        cached &= hit;
        files.push(bytes);
    }
    let dict = String::from_utf8(files.pop().unwrap_or_default()).map_err(LoadError::Dictionary)?;
    let rec = files.pop().unwrap_or_default();
    let det = files.pop().unwrap_or_default();
    let models = ModelEngines::from_bytes(&spec, det, rec, &dict, EngineConfig::default())?;
    STATE.with(|s| s.borrow_mut().session.set_models(models));
    Ok(Response::Ready { model, cached, languages })
}

/// Reads the server's Tesseract offer once (packs and tesseract-wasm); a
/// server without one leaves the worker to PP-OCR's languages.
async fn load_offer(cache: Option<&Cache>, models_url: &str) {
    if STATE.with(|s| s.borrow().tess.is_some()) {
        return;
    }
    let base = format!("{models_url}{TESSDATA_DIR}/");
    let manifest = match fetch_manifest(cache, &format!("{base}{TESSDATA_MANIFEST}")).await {
        Ok(m) => m,
        Err(e) => {
            web_sys::console::info_1(&format!("ocrchat worker: no Tesseract packs offered ({e})").into());
            return;
        }
    };
    let files = |key: &str, name: &str| -> HashMap<String, (String, String)> {
        let list = manifest[key].as_array().cloned().unwrap_or_default();
        list.iter()
            .filter_map(|e| {
                let (n, f, sha) = (e[name].as_str()?, e["file"].as_str()?, e["sha256"].as_str()?);
                Some((n.to_string(), (format!("{base}{f}"), sha.to_string())))
            })
            .collect()
    };
    let offer = TessOffer { packs: files("packs", "pack"), wasm: files("wasm", "name"), runtime: RefCell::new(None) };
    if offer.wasm.is_empty() {
        return;
    }
    tesseract::set_offered(offer.packs.keys().cloned());
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.session.set_tesseract(Arc::new(Readers::new(Arc::new(JsBackend))));
        s.tess = Some(Rc::new(offer));
    });
}

/// The languages this worker reads: the model's, and those whose one pack
/// the server offers (combined packs are read on the server).
fn languages(model_languages: &[&str]) -> Vec<LanguageChoice> {
    let offered = |packs: &str| {
        !packs.contains('+') && STATE.with(|s| s.borrow().tess.as_ref().is_some_and(|t| t.packs.contains_key(packs)))
    };
    registry::language_statuses(model_languages, offered)
        .into_iter()
        .filter(|l| l.installed)
        .map(|l| LanguageChoice { code: l.language.code.into(), name: l.language.name.into() })
        .collect()
}

/// The packs of the script trial the server offers.
fn auto_candidates() -> Vec<String> {
    let offered = STATE.with(|s| s.borrow().tess.as_ref().map(|t| t.packs.keys().cloned().collect::<Vec<_>>()));
    let offered = offered.unwrap_or_default();
    trial_packs().map(|(_, pack)| pack).filter(|p| offered.iter().any(|o| o == p)).map(str::to_string).collect()
}

/// Loads the pack of an explicit Tesseract language before its file is read.
async fn load_packs_for(language: &str) -> Result<(), LoadError> {
    let code = registry::canonical_language(language);
    match registry::plan(&code) {
        Ok(Plan::Tesseract(packs)) if !packs.contains('+') => load_packs(&[packs]).await,
        // Everything else is the session's to refuse or read.
        _ => Ok(()),
    }
}

/// Fetches (or takes from the Cache API) and starts every pack of `packs`
/// not running yet, and tesseract-wasm itself on first need.
async fn load_packs(packs: &[String]) -> Result<(), LoadError> {
    let missing: Vec<&String> = packs.iter().filter(|p| !tesseract::is_loaded(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let offer = STATE.with(|s| s.borrow().tess.clone()).ok_or_else(|| LoadError::NotOffered("pack".into()))?;
    let cache = open_cache().await;
    let file = |name: &str, list: &HashMap<String, (String, String)>| {
        list.get(name).cloned().ok_or_else(|| LoadError::NotOffered(name.to_string()))
    };
    if offer.runtime.borrow().is_none() {
        let (url, sha) = file("lib.js", &offer.wasm)?;
        let (source, _) = fetch_model_file(cache.as_ref(), &url, &sha).await?;
        let lib = tesseract::import_lib(&source, &url).await.map_err(LoadError::Tesseract)?;
        let build = if tesseract::simd(&lib) { "tesseract-core.wasm" } else { "tesseract-core-fallback.wasm" };
        let (url, sha) = file(build, &offer.wasm)?;
        let (wasm, _) = fetch_model_file(cache.as_ref(), &url, &sha).await?;
        *offer.runtime.borrow_mut() = Some(Rc::new((lib, wasm)));
    }
    for pack in missing {
        let (url, sha) = file(pack, &offer.packs)?;
        let (model, _) = fetch_model_file(cache.as_ref(), &url, &sha).await?;
        let runtime = offer.runtime.borrow().clone().expect("set above");
        let (lib, wasm) = &*runtime;
        tesseract::load_pack(lib, wasm, pack, &model).await.map_err(LoadError::Tesseract)?;
    }
    Ok(())
}

/// The model cache, or `None` where the Cache API is unavailable (it only
/// exists in secure contexts: https or localhost).
async fn open_cache() -> Option<Cache> {
    let caches = scope().caches().ok()?;
    JsFuture::from(caches.open(MODEL_CACHE)).await.ok().map(JsCast::unchecked_into)
}

/// The manifest from the network (it names the current files), falling back
/// to the cached copy when offline.
async fn fetch_manifest(cache: Option<&Cache>, url: &str) -> Result<serde_json::Value, LoadError> {
    let bytes = match fetch_bytes(url).await {
        Ok(bytes) => {
            if let Some(cache) = cache {
                put(cache, url, &bytes).await;
            }
            bytes
        }
        Err(e) => match cache {
            Some(cache) => cached_bytes(cache, url).await.ok_or(e)?,
            None => return Err(e),
        },
    };
    serde_json::from_slice(&bytes).map_err(LoadError::Manifest)
}

/// A model file from the cache (`true`) or the network (`false`), verified.
async fn fetch_model_file(cache: Option<&Cache>, url: &str, sha256: &str) -> Result<(Vec<u8>, bool), LoadError> {
    let key = format!("{url}?sha256={sha256}");
    if let Some(cache) = cache
        && let Some(bytes) = cached_bytes(cache, &key).await
    {
        return Ok((bytes, true));
    }
    let bytes = fetch_bytes(&key).await?;
    if let Some(actual) = sha256_hex(&bytes).await
        && actual != sha256
    {
        return Err(LoadError::Checksum { url: url.into(), actual });
    }
    if let Some(cache) = cache {
        put(cache, &key, &bytes).await;
    }
    Ok((bytes, false))
}

async fn fetch_bytes(url: &str) -> Result<Vec<u8>, LoadError> {
    let resp: web_sys::Response = JsFuture::from(scope().fetch_with_str(url))
        .await
        .map_err(|e| LoadError::Fetch { url: url.into(), message: js_text(&e) })?
        .unchecked_into();
    if !resp.ok() {
        return Err(LoadError::Http { url: url.into(), status: resp.status() });
    }
    response_bytes(&resp).await.ok_or_else(|| LoadError::Body { url: url.into() })
}

async fn response_bytes(resp: &web_sys::Response) -> Option<Vec<u8>> {
    let buf = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&buf.unchecked_into::<ArrayBuffer>()).to_vec())
}

async fn cached_bytes(cache: &Cache, key: &str) -> Option<Vec<u8>> {
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    if hit.is_undefined() {
        return None;
    }
    response_bytes(&hit.unchecked_into()).await
}

async fn put(cache: &Cache, key: &str, bytes: &[u8]) {
    let mut copy = bytes.to_vec();
    let stored = match web_sys::Response::new_with_opt_u8_array(Some(&mut copy)) {
        Ok(resp) => JsFuture::from(cache.put_with_str(key, &resp)).await.map(|_| ()),
        Err(e) => Err(e),
    };
    // A full or unavailable cache only costs a download next time.
    if let Err(e) = stored {
        web_sys::console::warn_2(&format!("ocrchat worker: not cached: {key}").into(), &e);
    }
}

/// SHA-256 via SubtleCrypto, or `None` where it is unavailable (insecure
/// contexts): the check is a guard against corrupt downloads, not a trust root.
async fn sha256_hex(bytes: &[u8]) -> Option<String> {
    let subtle = scope().crypto().ok()?.subtle();
    let promise = subtle.digest_with_str_and_u8_array("SHA-256", bytes).ok()?;
    let digest = JsFuture::from(promise).await.ok()?;
    let digest = Uint8Array::new(&digest).to_vec();
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// The message of a JS exception (or the value itself when it is none).
pub(crate) fn js_text(v: &JsValue) -> String {
    v.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| v.as_string())
        .unwrap_or_else(|| format!("{v:?}"))
}
