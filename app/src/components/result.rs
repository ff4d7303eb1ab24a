//! One file's result: progress, the page with its boxes, the text, exports,
//! and chat: answered in the worker on the cpu tier (nothing leaves the
//! browser), by the server's API on the vlm tier.

use leptos::prelude::*;
use ocrchat_core::ExportFormat;
use ocrchat_worker::protocol::Request;
use wasm_bindgen::JsCast;

use crate::api;
use crate::app::{AppState, JobSignal, send};
use crate::model::{ChatLine, PageView, Phase, Tier};

/// Export formats, in button order.
const FORMATS: [(ExportFormat, &str); 6] = [
    (ExportFormat::Txt, "Text"),
    (ExportFormat::Md, "Markdown"),
    (ExportFormat::Docx, "Word"),
    (ExportFormat::Pdf, "Searchable PDF"),
    (ExportFormat::Csv, "CSV"),
    (ExportFormat::Json, "JSON"),
];

/// A file's card.
#[component]
pub fn FileCard(job: JobSignal) -> impl IntoView {
    let state = expect_context::<AppState>();
    let shown_page = RwSignal::new(0usize);
    let show_markdown = RwSignal::new(false);
    let phase = move || job.with(|j| j.phase.clone());
    let progress_label = move || {
        job.with(|j| match &j.phase {
            Phase::Queued => "queued".to_string(),
            Phase::Running => {
                format!("page {} of {}", (j.pages_done + 1).min(j.pages_total.max(1)), j.pages_total.max(1))
            }
            Phase::Done if j.tier == Tier::Cpu => {
                format!(
                    "{} page(s) in {:.1} s, confidence {:.0}%",
                    j.pages_total,
                    j.millis / 1000.0,
                    j.confidence * 100.0
                )
            }
            Phase::Done => format!("{} page(s) read by the server", j.pages_total),
            Phase::Failed(_) => "failed".into(),
        })
    };
    let export = move |format: ExportFormat| {
        let (id, tier, uuid, name) = job.with_untracked(|j| (j.id, j.tier, j.server_uuid.clone(), j.name.clone()));
        match (tier, uuid) {
            // Made by the engine's exporters in the worker: no server round-trip.
            (Tier::Cpu, _) => send(&Request::Export { job: id, format }, None),
            (Tier::Vlm, Some(uuid)) => leptos::task::spawn_local(async move {
                let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s).to_string();
                match api::download(&uuid, format.extension(), &state.token.get_untracked()).await {
                    Ok(bytes) => {
                        let _ = crate::util::download(
                            &js_sys::Uint8Array::from(&bytes[..]),
                            &format!("{stem}.{}", format.extension()),
                            "application/octet-stream",
                        );
                    }
                    Err(api::ApiError(e)) => job.update(|j| j.phase = Phase::Failed(e)),
                }
            }),
            (Tier::Vlm, None) => {}
        }
    };
    view! {
        <article class="card" data-testid="file-card" data-workers=move || job.with(|j| j.workers.to_string())>
            <header>
                <strong class="name">{move || job.with(|j| j.name.clone())}</strong>
                <progress
                    data-testid="progress"
                    max=move || job.with(|j| j.pages_total.max(1))
                    value=move || job.with(|j| if j.finished() { j.pages_total.max(1) } else { j.pages_done })
                ></progress>
                <span class="progress-label">{progress_label}</span>
            </header>
            {move || match phase() {
                Phase::Failed(e) => Some(view! { <p class="error" data-testid="error" role="alert">{e}</p> }),
                _ => None,
            }}
            <div class="result">
                <div class="pages">
                    <nav class="page-tabs">
                        {move || {
                            let n = job.with(|j| j.pages.len());
                            (n > 1).then(|| {
                                (0..n)
                                    .map(|i| view! {
                                        <button
                                            class:active=move || shown_page.get() == i
                                            on:click=move |_| shown_page.set(i)
                                        >{format!("{}", i + 1)}</button>
                                    })
                                    .collect_view()
                            })
                        }}
                    </nav>
                    {move || job.with(|j| j.pages.get(shown_page.get()).cloned()).map(|p| view! { <PageImage page=p/> })}
                </div>
                <div class="text">
                    <nav class="text-tabs">
                        <button class:active=move || !show_markdown.get() on:click=move |_| show_markdown.set(false)>"Text"</button>
                        <button class:active=move || show_markdown.get() on:click=move |_| show_markdown.set(true)>"Markdown"</button>
                    </nav>
                    <textarea
                        data-testid="result-text"
                        spellcheck="false"
                        class:hidden=move || show_markdown.get()
                        prop:value=move || job.with(|j| j.edited.clone())
                        on:input=move |ev| job.update(|j| j.edited = event_target_value(&ev))
                    ></textarea>
                    <pre class="markdown" data-testid="result-markdown" class:hidden=move || !show_markdown.get()>
                        {move || job.with(|j| j.markdown.clone())}
                    </pre>
                    <p class="hint">"Edit freely to copy; exports contain the recognised document."</p>
                    <div class="exports">
                        {FORMATS
                            .into_iter()
                            .map(|(f, label)| view! {
                                <button
                                    data-testid=format!("export-{}", f.extension())
                                    disabled=move || !matches!(phase(), Phase::Done)
                                    on:click=move |_| export(f)
                                >{label}</button>
                            })
                            .collect_view()}
                    </div>
                    {move || {
                        let can_chat = job.with(|j| match j.tier {
                            Tier::Cpu => j.phase == Phase::Done,
                            Tier::Vlm => j.server_uuid.is_some(),
                        });
                        can_chat.then(|| view! { <Chat job=job/> })
                    }}
                </div>
            </div>
        </article>
    }
}

/// A page preview with its words drawn over it; hovering a word shows its
/// text and confidence.
#[component]
fn PageImage(page: PageView) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let hovered = RwSignal::new(None::<(String, f32)>);
    let (pw, ph) = (page.preview_width, page.preview_height);
    let pixels = page.pixels.clone();
    canvas.on_load(move |c| {
        // The worker's RGBA goes straight into the canvas (no copy into wasm).
        let data = js_sys::Uint8ClampedArray::new(&pixels);
        let drawn = web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&data, pw, ph).and_then(|img| {
            let ctx: web_sys::CanvasRenderingContext2d = c.get_context("2d")?.ok_or("no 2d context")?.unchecked_into();
            ctx.put_image_data(&img, 0.0, 0.0)
        });
        if let Err(e) = drawn {
            web_sys::console::error_2(&"ocrchat: cannot draw the page".into(), &e);
        }
    });
    let boxes = page
        .lines
        .iter()
        .flat_map(|line| {
            if line.words.is_empty() {
                vec![(line.text.clone(), line.bbox, line.confidence)]
            } else {
                line.words.iter().map(|w| (w.text.clone(), w.bbox, w.confidence)).collect()
            }
        })
        .map(|(text, [x0, y0, x1, y1], conf)| {
            let label = format!("{text} — {:.0}%", conf * 100.0);
            view! {
                <rect
                    class="word"
                    class:low=conf < 0.8
                    x=x0 y=y0 width=x1.saturating_sub(x0) height=y1.saturating_sub(y0)
                    aria-label=label
                    on:mouseenter=move |_| hovered.set(Some((text.clone(), conf)))
                    on:mouseleave=move |_| hovered.set(None)
                ></rect>
            }
        })
        .collect_view();
    view! {
        <figure class="page" data-testid="page-view">
            <div class="page-stack">
                <canvas node_ref=canvas width=pw height=ph></canvas>
                <svg class="overlay" data-testid="overlay" viewBox=format!("0 0 {} {}", page.width, page.height) preserveAspectRatio="none">
                    {boxes}
                </svg>
            </div>
            <figcaption data-testid="hover-info">
                {move || match hovered.get() {
                    Some((t, c)) => format!("“{t}” — confidence {:.0}%", c * 100.0),
                    None => format!("page {} · hover a box to see its text and confidence", page.index + 1),
                }}
            </figcaption>
        </figure>
    }
}

/// Questions about a file's text. cpu tier: the worker's built-in answerer
/// (the question never leaves the browser); vlm tier: `POST /api/v1/chat/<uuid>/`.
#[component]
fn Chat(job: JobSignal) -> impl IntoView {
    let state = expect_context::<AppState>();
    let draft = RwSignal::new(String::new());
    let ask = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let question = draft.get_untracked();
        if question.trim().is_empty() || job.with_untracked(|j| j.asking) {
            return;
        }
        draft.set(String::new());
        job.update(|j| {
            j.asking = true;
            j.chat.push(ChatLine { role: "you", text: question.clone(), citations: Vec::new() });
        });
        let (id, tier, uuid, conv) =
            job.with_untracked(|j| (j.id, j.tier, j.server_uuid.clone(), j.conversation.clone()));
        match (tier, uuid) {
            (Tier::Cpu, _) => send(&Request::Ask { job: id, question }, None),
            (Tier::Vlm, uuid) => leptos::task::spawn_local(async move {
                let uuid = uuid.unwrap_or_default();
                let reply = api::chat(&uuid, &question, conv.as_deref(), &state.token.get_untracked()).await;
                job.update(|j| {
                    j.asking = false;
                    let line = match reply {
                        Ok(v) => {
                            j.conversation = v["conversation"].as_str().map(str::to_string);
                            let citations = v["message"]["citations"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|c| {
                                    (
                                        c["page"].as_u64().unwrap_or(0),
                                        c["snippet"].as_str().unwrap_or_default().to_string(),
                                    )
                                })
                                .collect();
                            ChatLine {
                                role: "assistant",
                                text: v["message"]["content"].as_str().unwrap_or_default().to_string(),
                                citations,
                            }
                        }
                        Err(api::ApiError(e)) => ChatLine { role: "error", text: e, citations: Vec::new() },
                    };
                    j.chat.push(line);
                });
            }),
        }
    };
    let messages = move || job.with(|j| j.chat.clone());
    view! {
        <section class="chat" data-testid="chat" data-asking=move || job.with(|j| j.asking.to_string())>
            <h3>
                {move || match job.with(|j| j.tier) {
                    Tier::Cpu => "Ask about this document (answered in this browser, from its text)",
                    Tier::Vlm => "Ask about this document",
                }}
            </h3>
            <ul>
                {move || {
                    messages()
                        .into_iter()
                        .map(|line| view! {
                            <li class=line.role data-testid="chat-message" data-role=line.role>
                                <b>{line.role}": "</b>
                                <span data-testid="chat-content">{line.text}</span>
                                {(!line.citations.is_empty()).then(|| view! {
                                    <ul class="citations">
                                        {line.citations.into_iter().map(|(page, snippet)| view! {
                                            <li data-testid="chat-citation" data-page=page.to_string() data-snippet=snippet.clone()>
                                                {format!("p. {page}: “{snippet}”")}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                })}
                            </li>
                        })
                        .collect_view()
                }}
            </ul>
            <form on:submit=ask>
                <input
                    type="text"
                    data-testid="chat-input"
                    placeholder="Ask a question; answers cite their page"
                    prop:value=move || draft.get()
                    on:input=move |ev| draft.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="chat-send">"Ask"</button>
            </form>
        </section>
    }
}
