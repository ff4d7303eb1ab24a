//! The HTTP surface: routes, per-request middleware (request ids, metrics,
//! tracing, CORS), the web app and the models served to the browser worker.

pub mod assets;
pub mod chat;
pub mod cors;
pub mod ocr;
pub mod ops;
pub mod options;
pub mod view;

use std::path::Path;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::metrics::RequestLabels;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the server.
pub fn router(state: AppState, web_dir: Option<&Path>, models_dir: &Path) -> Router {
    // The upload limit itself is enforced on the file while it streams to
    // disk; the body limit (twice that, plus framing) only bounds how much of
    // an oversized upload is read and discarded so the client sees the 413.
    let limit = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX);
    let body_limit = limit.saturating_mul(2).saturating_add(1024 * 1024);
    let mut app = Router::new()
        .route("/api/v1/ocr/", post(ocr::submit).layer(DefaultBodyLimit::max(body_limit)).get(ocr::list_jobs))
        .route("/api/v1/ocr/{uuid}/", get(ocr::get_job))
        .route("/api/v1/ocr/{uuid}/download/", get(ocr::download))
        .route("/api/v1/chat/{uuid}/", post(chat::send))
        .route("/api/v1/chat/{uuid}/history/", get(chat::history))
        .route("/api/v1/tools/", get(ops::tools))
        .route("/api/v1/languages/", get(ops::languages))
        // The contract's paths end in a slash; a client that drops it is
        // redirected with 308, which keeps the method and body.
        .route("/api/v1/ocr", post(add_slash).get(add_slash))
        .route("/api/v1/ocr/{uuid}", get(add_slash))
        .route("/api/v1/ocr/{uuid}/download", get(add_slash))
        .route("/api/v1/chat/{uuid}", post(add_slash))
        .route("/api/v1/chat/{uuid}/history", get(add_slash))
        .route("/api/v1/tools", get(add_slash))
        .route("/api/v1/languages", get(add_slash))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/api/{*rest}", get(api_not_found).post(api_not_found))
        .nest_service("/models", assets::models(models_dir));
    app = match web_dir {
        Some(dir) => app.fallback_service(assets::web(dir)),
        None => app.fallback(no_web_app),
    };
    // CORS innermost: preflights are answered by it, yet still counted and
    // given a request id by the outer layers.
    app.layer(cors::layer())
        .layer(middleware::from_fn_with_state(state.clone(), count_request))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn add_slash(uri: Uri) -> Redirect {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::permanent(&format!("{}/{query}", uri.path()))
}

async fn api_not_found() -> ApiError {
    ApiError::NoRoute
}

async fn no_web_app() -> impl IntoResponse {
    (
        axum::http::StatusCode::NOT_FOUND,
        "ocrchat API server. The web app is not built here (make web); the API is under /api/v1/ (see /openapi.json).\n",
    )
}

async fn count_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_string();
    let method = request.method().to_string();
    let response = next.run(request).await;
    state.metrics.requests.get_or_create(&RequestLabels { route, method, status: response.status().as_u16() }).inc();
    response
}
