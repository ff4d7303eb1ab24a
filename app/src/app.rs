//! App state and the traffic that changes it: worker responses for the cpu
//! tier, API calls for the vlm tier. A multi-page PDF may be read by several
//! workers (`shared`).

mod shared;

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::ArrayBuffer;
use leptos::prelude::*;
use ocrchat_core::ModelSize;
use ocrchat_core::sniff::SNIFF_BYTES;
use ocrchat_worker::protocol::{LanguageChoice, Request, Response, Role};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::api;
use crate::components::{Controls, FileCard};
use crate::model::{ChatLine, FileJob, PageView, Phase, Tier};
use crate::worker::{Build, OcrWorker};

/// A file's state, shared by its card and the message handlers.
pub type JobSignal = RwSignal<FileJob, LocalStorage>;

/// Where the model is.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// Being fetched / compiled.
    Loading(ModelSize),
    /// Loaded; `cached`: no download was needed.
    Ready { model: ModelSize, cached: bool },
    /// Could not load.
    Failed(String),
}

/// Everything the screens share (all `Copy` handles).
#[derive(Clone, Copy)]
pub struct AppState {
    /// Files of the current batch, in drop order.
    pub jobs: RwSignal<Vec<JobSignal>>,
    /// Model state.
    pub model: RwSignal<ModelState>,
    /// Languages the worker reads (the model's and the Tesseract packs the server offers).
    pub languages: RwSignal<Vec<LanguageChoice>>,
    /// Selected language (`auto` or a code).
    pub language: RwSignal<String>,
    /// Selected tier.
    pub tier: RwSignal<Tier>,
    /// API token for the server tiers.
    pub token: RwSignal<String>,
    /// The model family every worker loads (`tiny` / `small`).
    chosen_model: StoredValue<ModelSize>,
    next_id: StoredValue<u32>,
}

/// The OCR workers started so far and which one holds each job.
#[derive(Default)]
struct Workers {
    running: HashMap<Build, OcrWorker>,
    owner: HashMap<u32, Build>,
    /// Files read by the PDF worker with helpers, by job.
    shared: HashMap<u32, shared::SharedRead>,
    /// The model the PDF worker reads with (its last `load`); helpers load the same.
    full_model: Option<ModelSize>,
    /// A model chosen while a shared read ran, loaded in the PDF worker when
    /// the last one ends (`shared::end`). A worker handles requests in order,
    /// so a read alone keeps its model to the end; a shared read asks its
    /// pages one request at a time, and a `load` between two of them would
    /// read the rest of the file with the other model.
    deferred_load: Option<ModelSize>,
}

impl Workers {
    /// Sends `load model` to the worker of `build`, or keeps it for the PDF
    /// worker while a shared read runs.
    fn load(&mut self, build: Build, model: ModelSize) {
        let Some(worker) = self.running.get(&build) else { return };
        if build == Build::Full {
            if !self.shared.is_empty() {
                self.deferred_load = Some(model);
                return;
            }
            self.full_model = Some(model);
        }
        worker.send(&Request::Load { model, models_url: models_url() }, None);
    }
}

thread_local! {
    static WORKERS: RefCell<Workers> = RefCell::new(Workers::default());
}

/// Sends a job's request (`export`, `forget`) to the worker that read it.
pub fn send(req: &Request, payload: Option<ArrayBuffer>) {
    let job = match req {
        Request::Ocr { job, .. }
        | Request::Export { job, .. }
        | Request::Sniff { job }
        | Request::Ask { job, .. }
        | Request::ReadPage { job, .. }
        | Request::AddPage { job, .. }
        | Request::Forget { job } => Some(*job),
        Request::Load { .. } => None,
    };
    WORKERS.with(|w| {
        let w = w.borrow();
        let build = job.and_then(|j| w.owner.get(&j).copied()).unwrap_or(Build::Lite);
        match w.running.get(&build) {
            Some(worker) => worker.send(req, payload),
            None => web_sys::console::error_1(&"ocrchat: no OCR worker".into()),
        }
    });
}

/// localStorage key of the chosen model.
const MODEL_KEY: &str = "ocrchat.model";

fn models_url() -> String {
    // Same origin: the server publishes models/ next to the app.
    let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    format!("{origin}/models/")
}

impl AppState {
    fn new() -> Self {
        let model = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(MODEL_KEY).ok().flatten())
            .and_then(|m| ModelSize::parse(&m))
            .unwrap_or(ModelSize::Tiny);
        Self {
            jobs: RwSignal::new(Vec::new()),
            model: RwSignal::new(ModelState::Loading(model)),
            languages: RwSignal::new(Vec::new()),
            language: RwSignal::new("auto".into()),
            tier: RwSignal::new(Tier::Cpu),
            token: RwSignal::new(api::saved_token()),
            chosen_model: StoredValue::new(model),
            next_id: StoredValue::new(1),
        }
    }

    /// Loads `model` in every running worker.
    pub fn load_model(&self, model: ModelSize) {
        if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = s.set_item(MODEL_KEY, model.as_str());
        }
        self.chosen_model.set_value(model);
        self.model.set(ModelState::Loading(model));
        WORKERS.with(|w| {
            let w = &mut *w.borrow_mut();
            let builds: Vec<Build> = w.running.keys().copied().collect();
            builds.into_iter().for_each(|build| w.load(build, model));
        });
    }

    /// Starts the worker of `build` unless it runs, and has it load the
    /// chosen model (from the Cache API when another worker fetched it).
    fn start_worker(&self, build: Build) -> Result<(), String> {
        if WORKERS.with(|w| w.borrow().running.contains_key(&build)) {
            return Ok(());
        }
        let state = *self;
        let worker = OcrWorker::spawn(build, move |msg, payload| state.on_worker(build, msg, payload))
            .map_err(|e| format!("cannot start the OCR worker: {e:?}"))?;
        WORKERS.with(|w| {
            let w = &mut *w.borrow_mut();
            w.running.insert(build, worker);
            w.load(build, self.chosen_model.get_value());
        });
        Ok(())
    }

    fn job(&self, id: u32) -> Option<JobSignal> {
        self.jobs.with_untracked(|v| v.iter().find(|j| j.with_untracked(|j| j.id) == id).copied())
    }

    /// Starts a new batch with `files`: cpu files go to the worker, vlm files to the server.
    pub fn add_files(&self, files: Vec<web_sys::File>) {
        if files.is_empty() {
            return;
        }
        for old in self.jobs.get_untracked() {
            let id = old.with_untracked(|j| j.id);
            send(&Request::Forget { job: id }, None);
            WORKERS.with(|w| w.borrow_mut().owner.remove(&id));
            shared::end(id);
        }
        self.jobs.set(Vec::new());
        let tier = self.tier.get_untracked();
        for file in files {
            let id = self.next_id.get_value();
            self.next_id.set_value(id + 1);
            let job = RwSignal::new_local(FileJob::new(id, file.name(), tier));
            self.jobs.update(|v| v.push(job));
            let state = *self;
            leptos::task::spawn_local(async move {
                match tier {
                    Tier::Cpu => state.ocr_in_browser(id, file).await,
                    Tier::Vlm => state.ocr_on_server(job, file).await,
                }
            });
        }
    }

    async fn ocr_in_browser(&self, id: u32, file: web_sys::File) {
        let buf: ArrayBuffer = match JsFuture::from(file.array_buffer()).await {
            Ok(buf) => buf.unchecked_into(),
            Err(_) => return self.fail(id, "cannot read the file".into()),
        };
        let head =
            js_sys::Uint8Array::new_with_byte_offset_and_length(&buf, 0, buf.byte_length().min(SNIFF_BYTES as u32))
                .to_vec();
        let build = Build::for_file(&head);
        if let Err(e) = self.start_worker(build) {
            return self.fail(id, e);
        }
        WORKERS.with(|w| w.borrow_mut().owner.insert(id, build));
        // Transferred to the worker: the bytes never touch the network.
        let language = self.language.get_untracked();
        let role = match build {
            Build::Full => shared::role_for(id, &file.name(), &language, &buf),
            Build::Lite => Role::Whole,
        };
        send(&Request::Ocr { job: id, name: file.name(), language, role }, Some(buf));
    }

    async fn ocr_on_server(&self, job: JobSignal, file: web_sys::File) {
        let token = self.token.get_untracked();
        job.update(|j| j.phase = Phase::Running);
        let mut result = api::submit_vlm(&file, &self.language.get_untracked(), &token).await;
        // Larger files are queued by the server: poll until they finish.
        while let Ok(v) = &result {
            match v["status"].as_str() {
                Some("pending" | "processing") => {
                    job.update(|j| {
                        j.pages_total = v["page_count"].as_u64().unwrap_or(0) as u32;
                        j.pages_done = v["pages_done"].as_u64().unwrap_or(0) as u32;
                    });
                    crate::util::sleep(1500).await;
                    let uuid = v["uuid"].as_str().unwrap_or_default().to_string();
                    result = api::job(&uuid, &token).await;
                }
                _ => break,
            }
        }
        job.update(|j| match result {
            Ok(v) if v["status"] == "done" => {
                j.pages_total = v["page_count"].as_u64().unwrap_or(1) as u32;
                j.pages_done = j.pages_total;
                j.text = v["text"].as_str().unwrap_or_default().to_string();
                j.edited = j.text.clone();
                j.markdown = v["markdown"].as_str().unwrap_or_default().to_string();
                j.confidence = v["mean_confidence"].as_f64().unwrap_or(0.0) as f32;
                j.server_uuid = v["uuid"].as_str().map(str::to_string);
                j.phase = Phase::Done;
            }
            Ok(v) => {
                j.phase = Phase::Failed(v["error"].as_str().unwrap_or("the server could not read the file").to_string())
            }
            Err(api::ApiError(e)) => j.phase = Phase::Failed(e),
        });
    }

    fn fail(&self, id: u32, message: String) {
        if let Some(job) = self.job(id) {
            job.update(|j| j.phase = Phase::Failed(message));
        }
    }

    /// Applies one response of the worker of `build`. The page's model
    /// state follows the first-load worker; the full one only reads PDFs.
    fn on_worker(&self, build: Build, msg: Response, payload: Option<ArrayBuffer>) {
        match msg {
            Response::Started => {}
            Response::Ready { .. } if build == Build::Full => {}
            Response::Ready { model, cached, languages } => {
                self.languages.set(languages);
                self.model.set(ModelState::Ready { model, cached });
                // Only now: installing it precaches the app, which must not
                // compete with the worker and model downloads of a first visit.
                crate::util::register_service_worker();
            }
            Response::Opened { job, pages, .. } => {
                if let Some(j) = self.job(job) {
                    j.update(|j| {
                        // A file is opened again when the worker fetched a
                        // Tesseract pack mid-file: its pages come afresh.
                        j.pages.clear();
                        j.pages_done = 0;
                        j.pages_total = pages;
                        j.phase = Phase::Running;
                    });
                }
                shared::opened(job, pages);
            }
            // The app picks worker builds itself (`Build::for_file`); it never asks.
            Response::Sniffed { .. } => {}
            Response::Page { job, index, .. } => {
                self.show_page(msg, payload);
                if build == Build::Full {
                    shared::lead_read(job, index);
                }
            }
            Response::Planned { job, ocr } => shared::planned(*self, job, ocr),
            Response::Done { job, text, markdown, mean_confidence, millis } => {
                shared::end(job);
                if let Some(j) = self.job(job) {
                    j.update(|j| {
                        j.edited = text.clone();
                        j.text = text;
                        j.markdown = markdown;
                        j.confidence = mean_confidence;
                        j.millis = millis;
                        j.phase = Phase::Done;
                    });
                }
            }
            Response::Exported { filename, mime, .. } => {
                if let Some(buf) = payload
                    && let Err(e) = crate::util::download(&js_sys::Uint8Array::new(&buf), &filename, &mime)
                {
                    web_sys::console::error_2(&"ocrchat: download failed".into(), &e);
                }
            }
            Response::Answer { job, content, citations, .. } => {
                if let Some(j) = self.job(job) {
                    j.update(|j| {
                        j.asking = false;
                        let citations = citations.into_iter().map(|c| (u64::from(c.page), c.snippet)).collect();
                        j.chat.push(ChatLine { role: "assistant", text: content, citations });
                    });
                }
            }
            // A question the worker refused: said in the chat, the file stays read.
            Response::Error { job: Some(job), message }
                if self.job(job).is_some_and(|j| j.with_untracked(|j| j.asking)) =>
            {
                if let Some(j) = self.job(job) {
                    j.update(|j| {
                        j.asking = false;
                        j.chat.push(ChatLine { role: "error", text: message, citations: Vec::new() });
                    });
                }
            }
            Response::Error { job: Some(job), message } => {
                shared::end(job);
                self.fail(job, message);
            }
            // The PDF reader could not start: its waiting files cannot be read,
            // and the next PDF starts a new one (the network may be back).
            Response::Error { job: None, message } if build == Build::Full => {
                let waiting: Vec<u32> = WORKERS.with(|w| {
                    let mut w = w.borrow_mut();
                    w.running.remove(&Build::Full);
                    w.owner.iter().filter(|&(_, b)| *b == Build::Full).map(|(j, _)| *j).collect()
                });
                for id in waiting {
                    shared::end(id);
                    if self.job(id).is_some_and(|j| !j.with_untracked(FileJob::finished)) {
                        self.fail(id, format!("cannot read PDFs here: {message}"));
                    }
                }
            }
            Response::Error { job: None, message } => {
                if matches!(self.model.get_untracked(), ModelState::Loading(_)) {
                    self.model.set(ModelState::Failed(message));
                } else {
                    web_sys::console::error_1(&format!("ocrchat worker: {message}").into());
                }
            }
        }
    }

    /// Shows a `page` response (of any worker) on its card, pages in page
    /// order whichever worker read them first.
    fn show_page(&self, msg: Response, payload: Option<ArrayBuffer>) {
        let Response::Page { job, index, pages, page, preview_width, preview_height } = msg else { return };
        let Some(j) = self.job(job) else { return };
        let view =
            payload.ok_or("page without pixels").map(|px| PageView::new(page, px, preview_width, preview_height));
        j.update(|j| {
            j.pages_total = pages;
            j.pages_done = (j.pages_done + 1).min(pages);
            match view {
                Ok(v) => {
                    let at = j.pages.partition_point(|p| p.index < v.index);
                    j.pages.insert(at, v);
                }
                Err(e) => web_sys::console::error_1(&format!("ocrchat: page {index}: {e}").into()),
            }
        });
    }

    /// The status line: `done` once every file of the batch has finished.
    pub fn status(&self) -> String {
        let jobs: Vec<FileJob> = self.jobs.with(|v| v.iter().map(|j| j.get()).collect());
        if !jobs.is_empty() {
            if jobs.iter().all(FileJob::finished) {
                return "done".into();
            }
            let (done, total) = jobs.iter().fold((0, 0), |(d, t), j| (d + j.pages_done, t + j.pages_total.max(1)));
            return format!("reading… {done}/{total} pages");
        }
        match self.model.get() {
            ModelState::Loading(m) => format!("loading the {m} model…"),
            ModelState::Ready { .. } => "ready".into(),
            ModelState::Failed(e) => format!("error: {e}"),
        }
    }
}

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    // The first-load worker starts with the page and loads the chosen model.
    if let Err(e) = state.start_worker(Build::Lite) {
        state.model.set(ModelState::Failed(e));
    }
    view! {
        <header>
            <h1>"ocrchat"</h1>
            <p class="privacy" data-testid="privacy">
                {move || match state.tier.get() {
                    Tier::Cpu => "Private: with the cpu tier your files never leave this browser. \
                                  The OCR runs here, in WebAssembly; nothing is uploaded.",
                    Tier::Vlm => "The vlm tier sends your file to this server's vision model.",
                }}
            </p>
        </header>
        <main>
            <Controls/>
            <p class="status" data-testid="status">{move || state.status()}</p>
            <For
                each=move || state.jobs.get()
                key=|j| j.with_untracked(|j| j.id)
                children=move |job| view! { <FileCard job=job/> }
            />
        </main>
    }
}
