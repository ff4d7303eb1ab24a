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
use crate::llm::tools::{ToolInfo, catalogue};
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

/// One language, how it is read and the tiers that read it.
#[derive(Serialize, ToSchema)]
pub struct LanguageEntry {
    /// Code to pass as `language` (codes combine with `+`, e.g. `ru+en`).
    pub code: &'static str,
    /// English name.
    pub name: &'static str,
    /// Writing system, e.g. `Latin`, `Cyrillic`, `Devanagari`.
    pub script: &'static str,
    /// Recogniser family on the cpu tier: `pp-ocrv6` or `tesseract`.
    pub family: &'static str,
    /// Whether the cpu tier's model for it is installed on this server.
    pub installed: bool,
    /// Tiers that read it on this server now.
    pub tiers: Vec<Tier>,
}

/// `GET /api/v1/languages/`.
#[derive(Serialize, ToSchema)]
pub struct LanguageList {
    /// `auto` detects the script.
    pub default: &'static str,
    /// Every known code; `installed: false` ones need their packs installed
    /// for the cpu tier (the 400 for them names the command).
    pub languages: Vec<LanguageEntry>,
}

/// List languages.
#[utoipa::path(get, path = "/api/v1/languages/", tag = "catalogue", responses((status = 200, body = LanguageList)))]
pub async fn languages(State(state): State<AppState>) -> Json<LanguageList> {
    let vlm = state.capabilities().vlm;
    let languages = state
        .engines
        .languages()
        .into_iter()
        .map(|status| {
            let mut tiers = Vec::new();
            if status.installed {
                tiers.push(Tier::Cpu);
            }
            if vlm {
                tiers.push(Tier::Vlm);
            }
            let l = status.language;
            LanguageEntry {
                code: l.code,
                name: l.name,
                script: l.script,
                family: status.family.as_str(),
                installed: status.installed,
                tiers,
            }
        })
        .collect();
    Json(LanguageList { default: "auto", languages })
}

/// The OpenAPI document, generated from the handlers' annotations and types.
pub async fn openapi() -> impl IntoResponse {
    Json(crate::openapi::document())
}
