//! `/openapi.json`, generated from the handler annotations and response
//! types, plus what utoipa's types cannot say (the `translate_to` ⇔
//! `tool=translate` rule as JSON Schema `if`/`then`).

use std::sync::OnceLock;

use serde_json::{Value, json};

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{chat, ocr, ops, view};
use crate::error::ErrorBody;
use crate::llm::{ChatRole, Citation, Tier, Tool};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "ocrchat", description = "Self-hostable OCR.chat-compatible API: submit documents, poll jobs, download results, chat with them."),
    paths(ocr::submit, ocr::get_job, ocr::download, chat::send, chat::history, ops::tools, ops::languages, ops::healthz, ops::readyz, ops::metrics),
    components(schemas(view::JobView, ErrorBody, ocr::SubmitForm, chat::ChatRequest, chat::ChatReply, chat::ChatHistory,
        chat::ChatMessage, ops::ToolList, ops::LanguageList, Tier, Tool, ChatRole, Citation)),
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

/// The document served at `/openapi.json` (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        if let Some(form) = doc.pointer_mut("/components/schemas/SubmitForm").and_then(Value::as_object_mut) {
            // translate_to is required with tool=translate and refused without it.
            form.insert(
                "allOf".into(),
                json!([
                    {"if": {"required": ["translate_to"]},
                     "then": {"required": ["tool"], "properties": {"tool": {"const": "translate"}}}},
                    {"if": {"required": ["tool"], "properties": {"tool": {"const": "translate"}}},
                     "then": {"required": ["translate_to"]}},
                ]),
            );
        }
        // utoipa drops `required` on a parameter with a custom schema: the
        // handler answers 400 without a format.
        let download = doc.pointer_mut("/paths/~1api~1v1~1ocr~1{uuid}~1download~1/get/parameters");
        for param in download.and_then(Value::as_array_mut).into_iter().flatten() {
            if param["name"] == "format" {
                param["required"] = json!(true);
            }
        }
        doc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_says_what_the_handlers_do() {
        let doc = document();
        let download = &doc["paths"]["/api/v1/ocr/{uuid}/download/"]["get"];
        let format = download["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "format").unwrap();
        assert_eq!((format["in"].as_str(), format["required"].as_bool()), (Some("query"), Some(true)), "{format}");
        assert_eq!(format["schema"]["enum"], json!(crate::api::ocr::DOWNLOAD_FORMATS));
        for name in crate::api::ocr::DOWNLOAD_FORMATS {
            let parsed = ocrchat_engine::ExportFormat::parse(name).unwrap_or_else(|| panic!("{name} parses"));
            assert_eq!(parsed.extension(), name, "listed by canonical name");
        }
        let form = &doc["components"]["schemas"]["SubmitForm"];
        assert_eq!(form["allOf"][0]["then"]["properties"]["tool"]["const"], "translate", "{form}");
        assert_eq!(form["allOf"][1]["then"]["required"], json!(["translate_to"]));
        let message = &doc["components"]["schemas"]["ChatRequest"]["properties"]["message"];
        assert_eq!((message["minLength"].as_u64(), message["maxLength"].as_u64()), (Some(1), Some(4000)), "{message}");
        let codes = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(codes("/api/v1/ocr/", "post"), ["200", "400", "401", "402", "413", "429", "501"]);
        assert_eq!(codes("/api/v1/chat/{uuid}/", "post"), ["200", "400", "401", "404", "409", "501", "502", "504"]);
    }
}
