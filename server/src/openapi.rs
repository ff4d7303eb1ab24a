//! `/openapi.json`, generated from the handler annotations and response
//! types, plus what utoipa's types cannot say (blank form fields, the
//! `translate_to` ⇔ `tool=translate` rule).

use std::sync::OnceLock;

use serde_json::{Value, json};

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{chat, ocr, ops, view};
use crate::error::ErrorBody;
use crate::llm::tools::TOOLS;
use crate::llm::{ChatRole, Citation, Tier, Tool};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "ocrchat", description = "Self-hostable OCR.chat-compatible API: submit documents, poll jobs, download results, chat with them."),
    paths(ocr::submit, ocr::list_jobs, ocr::get_job, ocr::download, chat::send, chat::history, ops::tools, ops::languages, ops::healthz, ops::readyz, ops::metrics),
    components(schemas(view::JobView, view::JobSummary, ocr::JobList, ErrorBody, ocr::SubmitForm, chat::ChatRequest, chat::ChatEngine, chat::ChatReply, chat::ChatHistory,
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

/// A blank form field (the handler reads it as absent).
fn blank() -> Value {
    json!({"type": "string", "pattern": "^\\s*$"})
}

/// What the submission handler accepts beyond the derived schema: a blank
/// field is an absent one, and `translate_to` (non-blank) goes with
/// `tool=translate` and nothing else. Written as `anyOf` over the two cases
/// rather than `if`/`then`, which generators handle poorly in multipart forms.
fn submit_form_rules(form: &mut serde_json::Map<String, Value>) {
    if let Some(props) = form.get_mut("properties").and_then(Value::as_object_mut) {
        for (field, schema) in [("tier", "Tier"), ("tool", "Tool")] {
            if let Some(p) = props.get_mut(field).and_then(Value::as_object_mut) {
                p.remove("$ref");
                p.insert("anyOf".into(), json!([{"$ref": format!("#/components/schemas/{schema}")}, blank()]));
            }
        }
    }
    let others: Vec<&str> = TOOLS.iter().map(|t| t.slug).filter(|&s| s != Tool::Translate.slug()).collect();
    form.insert(
        "anyOf".into(),
        json!([
            {"properties": {"tool": {"anyOf": [{"enum": others}, blank()]}, "translate_to": blank()}},
            {"required": ["tool", "translate_to"],
             "properties": {"tool": {"const": Tool::Translate.slug()}, "translate_to": {"pattern": "\\S"}}},
        ]),
    );
}

/// The document served at `/openapi.json` (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises");
        if let Some(form) = doc.pointer_mut("/components/schemas/SubmitForm").and_then(Value::as_object_mut) {
            submit_form_rules(form);
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
        assert_eq!(form["anyOf"][1]["properties"]["tool"]["const"], "translate", "{form}");
        assert_eq!(form["anyOf"][1]["required"], json!(["tool", "translate_to"]));
        let others = form["anyOf"][0]["properties"]["tool"]["anyOf"][0]["enum"].as_array().unwrap();
        assert_eq!(others.len(), TOOLS.len() - 1, "every tool but translate: {others:?}");
        assert!(form["anyOf"][0]["properties"]["translate_to"]["pattern"].is_string(), "only blank without translate");
        let message = &doc["components"]["schemas"]["ChatRequest"]["properties"]["message"];
        assert_eq!((message["minLength"].as_u64(), message["maxLength"].as_u64()), (Some(1), Some(4000)), "{message}");
        let codes = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["responses"].as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(codes("/api/v1/ocr/", "post"), ["200", "400", "401", "402", "413", "429", "501"]);
        assert_eq!(codes("/api/v1/chat/{uuid}/", "post"), ["200", "400", "401", "404", "409", "501", "502", "504"]);
    }
}
