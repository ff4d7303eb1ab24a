//! Fixtures for the server's unit tests: an [`AppState`] on a temporary
//! SQLite database, and a vision model stand-in speaking the real
//! chat-completions protocol on 127.0.0.1 (the job runner and the queue are
//! the point of those tests, not a model).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use ocrchat_engine::InputFormat;
use serde_json::{Value, json};

use crate::blobs::local::LocalBlobs;
use crate::config::Config;
use crate::llm::Tier;
use crate::state::AppState;
use crate::store::{self, Backend, Charge, Inserted, Job, NewJob};

/// A temporary directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A fresh directory for `name`.
    pub fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ocrchat-unit-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("uploads")).unwrap();
        std::fs::create_dir_all(dir.join("results")).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fake VLM: answers each page with `page <n>` (n counts requests from 1),
/// or HTTP 500 for the request numbers in `fail`.
pub struct FakeVlm {
    /// `http://127.0.0.1:PORT/v1`.
    pub base: String,
    /// Requests answered so far.
    pub requests: Arc<AtomicUsize>,
}

/// Starts a [`FakeVlm`] on the current runtime.
pub async fn fake_vlm(fail: &[usize]) -> FakeVlm {
    #[derive(Clone)]
    struct Fake {
        requests: Arc<AtomicUsize>,
        fail: Arc<HashSet<usize>>,
    }
    async fn complete(State(fake): State<Fake>, Json(_request): Json<Value>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let n = fake.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if fake.fail.contains(&n) {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "model crashed").into_response();
        }
        let answer = json!({"choices": [{"message": {"role": "assistant", "content": format!("page {n}")},
                                          "finish_reason": "stop"}]});
        Json(answer).into_response()
    }
    let fake = Fake { requests: Arc::new(AtomicUsize::new(0)), fail: Arc::new(fail.iter().copied().collect()) };
    let requests = Arc::clone(&fake.requests);
    let app = axum::Router::new().route("/v1/chat/completions", post(complete)).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeVlm { base, requests }
}

/// A server state on a fresh SQLite database in `dir`, with `vlm` as its vision model.
pub async fn state(dir: &Scratch, vlm: Option<&FakeVlm>, config: Config) -> AppState {
    let backend = Backend::from_url(None, &dir.0).unwrap();
    let config = Config {
        data_dir: dir.0.clone(),
        // No models: these tests run the vlm tier; the cpu tier has its own tests with real models.
        models_dir: None,
        vlm_url: vlm.map(|v| v.base.clone()),
        vlm_model: vlm.map(|_| "fake-vision".into()),
        ..config
    };
    let store = store::open(&backend).await.unwrap();
    let blobs = Arc::new(LocalBlobs::new(&dir.0));
    AppState::new(config, store, blobs, &dir.0.join("no-models")).unwrap()
}

/// The paid account the unit tests charge: 100 credits.
pub fn charge() -> Charge {
    Charge { subject: "acct:1".into(), period: "credits".into(), cap: 100 }
}

/// A PDF of `pages` small blank-ish pages.
pub fn pdf(pages: usize) -> Vec<u8> {
    let img = image::RgbImage::from_fn(120, 80, |x, y| {
        if (x / 10 + y / 10) % 2 == 0 { [0, 0, 0].into() } else { [255, 255, 255].into() }
    });
    ocrchat_tests::pdfgen::scanned_pdf(&vec![&img; pages], 72.0)
}

/// Stores an upload and a vlm job for it (charged `pages` against `charge`), queued or claimed.
pub async fn vlm_job(state: &AppState, uuid: &str, bytes: &[u8], pages: i64, charge: &Charge, claimed: bool) -> Job {
    let path = state.uploads_dir.join(uuid);
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(state.store.reserve(charge, pages).await.unwrap(), Ok(()));
    let job = NewJob {
        uuid: uuid.into(),
        owner: charge.subject.clone(),
        account_id: None,
        priority: 0,
        tier: Tier::Vlm,
        language: "auto".into(),
        tool: None,
        translate_to: None,
        filename: format!("{uuid}.pdf"),
        input_format: InputFormat::Pdf,
        upload: uuid.into(),
        page_count: pages,
        page_cost: 1,
        charge: charge.clone(),
        idempotency_key: None,
    };
    match state.store.insert_job(&job, claimed.then_some("unit#0"), crate::jobs::now()).await.unwrap() {
        Inserted::New(job) => job,
        Inserted::Existing(_) => panic!("{uuid} exists"),
    }
}
