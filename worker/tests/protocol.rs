//! The worker protocol inside a real dedicated Web Worker (headless Chromium,
//! `wasm-bindgen-test-runner`; `scripts/test.sh` runs these): messages
//! survive structured cloning, payloads are transferred (not copied), and a
//! session with the real tiny model answers `opened` → `page`… → `done` and
//! exports files other programs recognise.
#![cfg(target_arch = "wasm32")]

use js_sys::Uint8Array;
use ocrchat_core::{Block, BlockKind, ExportFormat, InputFormat, Line, ModelSize, Page, Word};
use ocrchat_worker::protocol::{self, LanguageChoice, Request, Response};
use ocrchat_worker::session::Session;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

/// Posts `msg` through a MessageChannel (what `postMessage` between page and
/// worker does: structured clone plus transfer) and returns what arrives.
async fn round_trip(msg: &JsValue, transfer: &js_sys::Array) -> JsValue {
    let channel = web_sys::MessageChannel::new().unwrap();
    let received = js_sys::Promise::new(&mut |resolve, _| {
        let cb = Closure::once_into_js(move |ev: web_sys::MessageEvent| {
            resolve.call1(&JsValue::NULL, &ev.data()).unwrap();
        });
        channel.port2().set_onmessage(Some(cb.unchecked_ref()));
    });
    channel.port1().post_message_with_transferable(msg, transfer).unwrap();
    JsFuture::from(received).await.unwrap()
}

#[wasm_bindgen_test]
async fn requests_survive_postmessage_and_payloads_are_transferred() {
    let bytes: Vec<u8> = (0..=255).collect();
    let buf = Uint8Array::from(&bytes[..]).buffer();
    let req = Request::Ocr { job: 7, name: "scan.png".into(), language: "ru".into() };
    let msg = protocol::encode(&req, Some(&buf)).unwrap();
    // The JS shape other hosts (widget.js) rely on.
    assert_eq!(js_sys::Reflect::get(&msg, &"type".into()).unwrap(), "ocr");
    assert_eq!(js_sys::Reflect::get(&msg, &"job".into()).unwrap(), 7);
    let arrived = round_trip(&msg, &protocol::transfer_list(Some(&buf))).await;
    assert_eq!(buf.byte_length(), 0, "the sender's buffer is detached: transferred, not copied");
    let (back, payload) = protocol::decode::<Request>(arrived).unwrap();
    assert_eq!(back, req);
    // widget.js sends no language: that is `auto`.
    let bare = js_sys::JSON::parse(r#"{"type": "ocr", "job": 8, "name": "a.png"}"#).unwrap();
    let (bare, _) = protocol::decode::<Request>(bare).unwrap();
    assert_eq!(bare, Request::Ocr { job: 8, name: "a.png".into(), language: "auto".into() });
    assert_eq!(Uint8Array::new(&payload.expect("payload arrives")).to_vec(), bytes);
}

#[wasm_bindgen_test]
async fn every_response_kind_round_trips() {
    let all = [
        Response::Started,
        Response::Ready {
            model: ModelSize::Tiny,
            cached: true,
            languages: vec![LanguageChoice { code: "en".into(), name: "English".into() }],
        },
        Response::Opened { job: 1, pages: 3, format: InputFormat::Pdf },
        Response::Sniffed { job: 1, format: Some(InputFormat::Pdf), readable: false },
        Response::Sniffed { job: 2, format: None, readable: false },
        Response::Page { job: 1, index: 2, pages: 3, page: sample_page(), preview_width: 4, preview_height: 5 },
        Response::Done { job: 1, text: "a\u{c}b".into(), markdown: "# a".into(), mean_confidence: 0.5, millis: 12.0 },
        Response::Exported {
            job: 1,
            format: ExportFormat::Pdf,
            filename: "a.pdf".into(),
            mime: "application/pdf".into(),
        },
        Response::Answer {
            job: 1,
            question: "What is the total?".into(),
            content: "9.00 (p. 1)".into(),
            citations: vec![protocol::Citation { page: 1, snippet: "TOTAL:\n9.00".into() }],
        },
        Response::Error { job: None, message: "no".into() },
        Response::Error { job: Some(2), message: "bad file".into() },
    ];
    for r in all {
        let msg = protocol::encode(&r, None).unwrap();
        let (back, payload) = protocol::decode::<Response>(round_trip(&msg, &js_sys::Array::new()).await).unwrap();
        assert_eq!(back, r);
        assert!(payload.is_none());
    }
    let bad = protocol::decode::<Request>(JsValue::from_str("not a message"));
    assert!(bad.is_err(), "garbage is refused, not misread");
    // What widget.js and other JS hosts send: lower-case names.
    let export: JsValue = js_sys::JSON::parse(r#"{"type":"export","job":3,"format":"docx"}"#).unwrap();
    let (req, _) = protocol::decode::<Request>(export).unwrap();
    assert_eq!(req, Request::Export { job: 3, format: ExportFormat::Docx });
    let rtf: JsValue = js_sys::JSON::parse(r#"{"type":"export","job":3,"format":"rtf"}"#).unwrap();
    assert!(protocol::decode::<Request>(rtf).is_err(), "an unknown export format is refused");
}

/// A page with every field set, as the engine makes them.
fn sample_page() -> Page {
    let word = Word { text: "Acme".into(), bbox: [1, 2, 30, 12], confidence: 0.875 };
    let line = Line { text: "Acme".into(), bbox: [1, 2, 30, 12], confidence: 0.875, words: vec![word] };
    let block = Block {
        kind: BlockKind::Table,
        text: "Acme".into(),
        bbox: [1, 2, 30, 12],
        confidence: 0.875,
        lines: vec![line],
        table: Some(vec![vec!["Acme".into()]]),
    };
    let mut page = Page { index: 2, width: 40, height: 20, rotation: 90, blocks: vec![block], ..Page::default() };
    page.refresh_text();
    page
}

/// A born-digital two-page PDF (text layer in Helvetica): real text through
/// the engine without needing OCR-able pixels.
fn two_page_pdf() -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, font) = (Ref::new(1), Ref::new(2), Ref::new(3));
    pdf.catalog(catalog).pages(tree);
    let pages = [Ref::new(10), Ref::new(20)];
    pdf.pages(tree).kids(pages).count(2);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    for (i, page) in pages.into_iter().enumerate() {
        let content_id = Ref::new(page.get() + 1);
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        p.parent(tree);
        p.contents(content_id);
        p.resources().fonts().pair(Name(b"F1"), font);
        p.finish();
        let mut c = Content::new();
        c.begin_text();
        c.set_font(Name(b"F1"), 24.0);
        c.next_line(72.0, 700.0);
        let line = format!("Invoice number {} from Acme", 4200 + i);
        c.show(Str(line.as_bytes()));
        c.end_text();
        pdf.stream(content_id, &c.finish());
    }
    pdf.finish()
}

fn tiny_session() -> Session {
    let spec = *ocrchat_engine::registry::CATALOG.iter().find(|m| m.name == "ppocrv6-tiny").unwrap();
    let det = include_bytes!("../../models/ppocrv6-tiny/det.onnx").to_vec();
    let rec = include_bytes!("../../models/ppocrv6-tiny/rec.onnx").to_vec();
    let dict = include_str!("../../models/ppocrv6-tiny/dict.txt");
    let engine = ocrchat_engine::engine_from_bytes(&spec, det, rec, dict, Default::default()).unwrap();
    let mut s = Session::new();
    s.set_engine(ModelSize::Tiny, engine);
    s
}

#[wasm_bindgen_test]
fn a_session_reports_every_page_then_done_and_exports() {
    let mut s = tiny_session();
    let mut seen = Vec::new();
    s.ocr(3, "invoice.pdf", two_page_pdf(), "auto", &mut |r, p| seen.push((r, p))).unwrap();
    let kinds: Vec<&str> = seen
        .iter()
        .map(|(r, _)| match r {
            Response::Opened { .. } => "opened",
            Response::Page { .. } => "page",
            Response::Done { .. } => "done",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["opened", "page", "page", "done"]);
    for (r, p) in &seen {
        if let Response::Page { preview_width, preview_height, page, .. } = r {
            let rgba = p.as_ref().expect("a page carries its preview");
            assert_eq!(rgba.len(), (*preview_width * *preview_height * 4) as usize);
            assert!(*preview_width.max(preview_height) <= ocrchat_worker::session::PREVIEW_MAX_SIDE);
            assert!(!page.blocks.is_empty(), "the page has blocks: {page:?}");
        }
    }
    let Response::Done { text, .. } = &seen[3].0 else { unreachable!() };
    assert!(text.contains("Invoice number 4200 from Acme") && text.contains("4201"), "{text:?}");

    let (msg, txt) = s.export(3, ExportFormat::Txt).unwrap();
    assert!(matches!(msg, Response::Exported { ref filename, .. } if filename == "invoice.txt"), "{msg:?}");
    assert_eq!(String::from_utf8(txt).unwrap().trim(), text.trim());
    let (_, pdf) = s.export(3, ExportFormat::Pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let (_, docx) = s.export(3, ExportFormat::Docx).unwrap();
    assert!(docx.starts_with(b"PK"), "docx is a zip");
    s.forget(3);
    assert!(s.export(3, ExportFormat::Txt).is_err(), "a forgotten job is gone");
}

#[wasm_bindgen_test]
fn a_corrupt_file_is_an_error_and_the_session_goes_on() {
    let mut s = tiny_session();
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.extend_from_slice(&[0; 40]);
    let mut emitted = 0;
    let err = s.ocr(1, "bad.png", png, "auto", &mut |_, _| emitted += 1).unwrap_err();
    assert!(!err.to_string().is_empty());
    assert_eq!(emitted, 0, "nothing but the error for an unreadable file");
    let mut done = false;
    s.ocr(2, "ok.pdf", two_page_pdf(), "en", &mut |r, _| done |= matches!(r, Response::Done { .. })).unwrap();
    assert!(done);
}
