//! Operations and catalogue endpoints: health, readiness, metrics, OpenAPI,
//! tools and languages.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::llm::Tier;
use crate::llm::tools::{LANGUAGES, ToolInfo, catalogue};
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and an OCR model is installed.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "ready", body = String, content_type = "text/plain"),
    (status = 503, description = "The database does not answer, or no OCR model is installed",
        body = crate::error::ErrorBody),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.ping().await.map_err(|e| ApiError::Unavailable {
        message: "the database does not answer".into(),
        source: Some(e.into()),
    })?;
    if state.engines.installed().is_empty() {
        return Err(ApiError::Unavailable {
            message: "no OCR model installed (run `make models`)".into(),
            source: None,
        });
    }
    Ok("ready")
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(depth) = state.store.queue_depth().await {
        state.metrics.queue_depth.set(depth);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}

/// `GET /api/v1/tools/`.
#[derive(Serialize, ToSchema)]
pub struct ToolList {
    /// Every preset, with the tiers it runs on with this server's configuration.
    pub tools: Vec<ToolInfo>,
}

/// List tool presets.
#[utoipa::path(get, path = "/api/v1/tools/", tag = "catalogue", responses((status = 200, body = ToolList)))]
pub async fn tools(State(state): State<AppState>) -> Json<ToolList> {
    Json(ToolList { tools: catalogue(&state.capabilities()) })
}

/// One language and the tiers that read it.
#[derive(Serialize, ToSchema)]
pub struct LanguageEntry {
    /// Code to pass as `language`.
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Tiers that read it on this server.
    pub tiers: Vec<Tier>,
}

/// `GET /api/v1/languages/`.
#[derive(Serialize, ToSchema)]
pub struct LanguageList {
    /// `auto` detects the script.
    pub default: &'static str,
    /// Every accepted code.
    pub languages: Vec<LanguageEntry>,
}

/// List languages.
#[utoipa::path(get, path = "/api/v1/languages/", tag = "catalogue", responses((status = 200, body = LanguageList)))]
pub async fn languages(State(state): State<AppState>) -> Json<LanguageList> {
    let caps = state.capabilities();
    let languages = LANGUAGES
        .iter()
        .filter_map(|&(code, name)| {
            let mut tiers = Vec::new();
            if caps.cpu_languages.contains(&code) {
                tiers.push(Tier::Cpu);
            }
            if caps.vlm {
                tiers.push(Tier::Vlm);
            }
            (!tiers.is_empty()).then_some(LanguageEntry { code, name, tiers })
        })
        .collect();
    Json(LanguageList { default: "auto", languages })
}

/// The OpenAPI document, generated from the handlers' annotations and types.
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
