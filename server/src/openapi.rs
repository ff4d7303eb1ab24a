//! `/openapi.json`, generated from the handler annotations and response types.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{chat, ocr, ops, view};
use crate::error::ErrorBody;

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "ocrchat", description = "Self-hostable OCR.chat-compatible API: submit documents, poll jobs, download results, chat with them."),
    paths(ocr::submit, ocr::list_jobs, ocr::get_job, ocr::download, chat::send, chat::history, ops::tools, ops::languages, ops::healthz, ops::readyz, ops::metrics),
    components(schemas(view::JobView, view::JobSummary, ocr::JobList, ErrorBody, ocr::SubmitForm, chat::ChatRequest, chat::ChatEngine, chat::ChatReply, chat::ChatHistory, ops::ToolList, ops::LanguageList)),
    modifiers(&Security)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("api_token", SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("api_token"))));
    }
}
