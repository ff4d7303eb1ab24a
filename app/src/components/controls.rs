//! The top of the page: tier, model, language, token, and the drop zone.

use leptos::prelude::*;
use ocrchat_core::ModelSize;

use crate::api;
use crate::app::{AppState, ModelState};
use crate::model::Tier;

fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Selectors and the drop zone.
#[component]
pub fn Controls() -> impl IntoView {
    let state = expect_context::<AppState>();
    let dragging = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        state.add_files(files_of(input.files()));
        // Picking the same file again must fire `change` again.
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        state.add_files(files_of(ev.data_transfer().and_then(|d| d.files())));
    };
    let model_note = move || match state.model.get() {
        ModelState::Loading(m) => format!("{m} model: loading…"),
        ModelState::Ready { model, cached: true } => format!("{model} model ready (from this browser's cache)"),
        ModelState::Ready { model, cached: false } => format!("{model} model ready (downloaded once, now cached)"),
        ModelState::Failed(e) => format!("model error: {e}"),
    };
    view! {
        <section class="controls">
            <label>
                "Tier "
                <select id="tier" data-testid="tier" on:change=move |ev| {
                    state.tier.set(if event_target_value(&ev) == "vlm" { Tier::Vlm } else { Tier::Cpu })
                }>
                    <option value="cpu" selected>"cpu — in this browser"</option>
                    <option value="vlm">"vlm — server vision model"</option>
                </select>
            </label>
            <label>
                "Model "
                <select id="model" on:change=move |ev| state.load_model(ModelSize::parse(&event_target_value(&ev)).unwrap_or(ModelSize::Tiny))>
                    {move || {
                        let current = match state.model.get() {
                            ModelState::Loading(m) | ModelState::Ready { model: m, .. } => m,
                            ModelState::Failed(_) => ModelSize::Tiny,
                        };
                        [("tiny", "tiny (fast, 6 MB)"), ("small", "small (more accurate, 31 MB)")]
                            .into_iter()
                            .map(|(v, label)| view! { <option value=v selected=current.as_str() == v>{label}</option> })
                            .collect_view()
                    }}
                </select>
            </label>
            <label>
                "Language "
                <select id="language" on:change=move |ev| state.language.set(event_target_value(&ev))>
                    <option value="auto">"auto"</option>
                    {move || {
                        let current = state.language.get_untracked();
                        state
                            .languages
                            .get()
                            .into_iter()
                            .map(|l| {
                                let selected = l.code == current;
                                view! { <option value=l.code selected=selected>{format!("{} ({})", l.name, l.code)}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            <Show when=move || state.tier.get() == Tier::Vlm>
                <label>
                    "API token "
                    // Saved on every keystroke: a file dropped right after
                    // typing (no blur, so no `change`) still gets the token.
                    <input
                        id="token"
                        data-testid="token"
                        type="password"
                        placeholder="kept in this browser"
                        prop:value=move || state.token.get()
                        on:input=move |ev| {
                            let t = event_target_value(&ev);
                            api::save_token(&t);
                            state.token.set(t);
                        }
                    />
                </label>
            </Show>
            <span class="model-note" data-testid="model-status">{model_note}</span>
        </section>
        <label
            class="drop"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <input id="file-input" type="file" multiple accept="image/*,.pdf,.tif,.tiff" on:change=on_pick/>
            <span>"Drop images or PDFs here, or click to pick files"</span>
        </label>
    }
}
