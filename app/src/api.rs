//! The server API, used only for the vlm tier and chat (the cpu tier never
//! talks to the server about a document). Errors keep the server's message,
//! and a 402 its `used`/`cap`, so the user sees why.

use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{FormData, Headers, RequestInit};

/// localStorage key of the user's API token.
pub const TOKEN_KEY: &str = "ocrchat.token";

/// The saved token ("" when none).
pub fn saved_token() -> String {
    storage().and_then(|s| s.get_item(TOKEN_KEY).ok().flatten()).unwrap_or_default()
}

/// Saves (or with "" clears) the token.
pub fn save_token(token: &str) {
    if let Some(s) = storage() {
        let _ = if token.is_empty() { s.remove_item(TOKEN_KEY) } else { s.set_item(TOKEN_KEY, token) };
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// A failed API call, worded for the user.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError(pub String);

fn headers(token: &str) -> Result<Headers, ApiError> {
    let h = Headers::new().map_err(js)?;
    if !token.is_empty() {
        h.set("Authorization", &format!("Bearer {token}")).map_err(js)?;
    }
    Ok(h)
}

fn js(e: JsValue) -> ApiError {
    ApiError(
        e.as_string()
            .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
            .unwrap_or_else(|| "network error".into()),
    )
}

async fn call(url: &str, init: &RequestInit) -> Result<web_sys::Response, ApiError> {
    let window = web_sys::window().ok_or_else(|| ApiError("no window".into()))?;
    let resp = JsFuture::from(window.fetch_with_str_and_init(url, init)).await.map_err(js)?;
    Ok(resp.unchecked_into())
}

async fn json_of(resp: &web_sys::Response) -> Result<Value, ApiError> {
    let text = JsFuture::from(resp.text().map_err(js)?).await.map_err(js)?;
    let text = text.as_string().unwrap_or_default();
    if !resp.ok() {
        return Err(describe_error(resp.status(), &text));
    }
    serde_json::from_str(&text).map_err(|e| ApiError(format!("bad response from the server: {e}")))
}

/// The user-facing message for an error response (`{"error", "message", used?, cap?}`).
pub fn describe_error(status: u16, body: &str) -> ApiError {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let message = v["message"].as_str().map(str::to_string).unwrap_or_else(|| format!("HTTP {status}"));
    let code = v["error"].as_str().unwrap_or("");
    ApiError(match status {
        402 => format!(
            "Out of pages ({} of {} used): {message}",
            v["used"].as_i64().map_or("?".into(), |n| n.to_string()),
            v["cap"].as_i64().map_or("?".into(), |n| n.to_string())
        ),
        401 => format!("The server refused the token: {message}"),
        501 => format!("Not configured on this server: {message}"),
        _ if code.contains("not_configured") => format!("Not configured on this server: {message}"),
        _ => format!("Server error {status} ({code}): {message}"),
    })
}

/// Submits `file` to `POST /api/v1/ocr/` with `tier=vlm`; returns the job JSON.
pub async fn submit_vlm(file: &web_sys::File, language: &str, token: &str) -> Result<Value, ApiError> {
    let form = FormData::new().map_err(js)?;
    form.append_with_blob_and_filename("file", file, &file.name()).map_err(js)?;
    form.append_with_str("tier", "vlm").map_err(js)?;
    form.append_with_str("language", language).map_err(js)?;
    let init = RequestInit::new();
    init.set_method("POST");
    let h = headers(token)?;
    init.set_headers(&h);
    init.set_body(&form);
    json_of(&call("/api/v1/ocr/", &init).await?).await
}

/// Polls a job.
pub async fn job(uuid: &str, token: &str) -> Result<Value, ApiError> {
    let init = RequestInit::new();
    let h = headers(token)?;
    init.set_headers(&h);
    json_of(&call(&format!("/api/v1/ocr/{uuid}/"), &init).await?).await
}

/// Asks the chat endpoint about a job.
pub async fn chat(uuid: &str, message: &str, conversation: Option<&str>, token: &str) -> Result<Value, ApiError> {
    let mut body = serde_json::json!({ "message": message });
    if let Some(c) = conversation {
        body["conversation"] = c.into();
    }
    let h = headers(token)?;
    h.set("Content-Type", "application/json").map_err(js)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&h);
    init.set_body(&JsValue::from_str(&body.to_string()));
    json_of(&call(&format!("/api/v1/chat/{uuid}/"), &init).await?).await
}

/// Downloads a server-side export (vlm jobs) as bytes.
pub async fn download(uuid: &str, format: &str, token: &str) -> Result<Vec<u8>, ApiError> {
    let init = RequestInit::new();
    let h = headers(token)?;
    init.set_headers(&h);
    let resp = call(&format!("/api/v1/ocr/{uuid}/download/?format={format}"), &init).await?;
    if !resp.ok() {
        let text = JsFuture::from(resp.text().map_err(js)?).await.map_err(js)?;
        return Err(describe_error(resp.status(), &text.as_string().unwrap_or_default()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(js)?).await.map_err(js)?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
