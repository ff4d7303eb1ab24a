//! The worker protocol inside a real dedicated Web Worker (headless Chromium,
//! `wasm-bindgen-test-runner`; `scripts/test.sh` runs these): messages
//! survive structured cloning, payloads are transferred (not copied), and a
//! session with the real tiny model answers `opened` → `page`… → `done` and
//! exports files other programs recognise; a file shared by a lead and a
//! helper session makes the job a whole read makes.
#![cfg(target_arch = "wasm32")]

use js_sys::Uint8Array;
use ocrchat_core::{Block, BlockKind, ExportFormat, InputFormat, Line, ModelSize, Page, Word};
use ocrchat_worker::protocol::{self, LanguageChoice, Request, Response, Role};
use ocrchat_worker::session::{Session, SessionError};
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
    let req = Request::Ocr { job: 7, name: "scan.png".into(), language: "ru".into(), role: Role::Lead };
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
    assert_eq!(bare, Request::Ocr { job: 8, name: "a.png".into(), language: "auto".into(), role: Role::Whole });
    // The roles by name, as a JS host would send them.
    let help = js_sys::JSON::parse(r#"{"type": "ocr", "job": 8, "name": "a.pdf", "role": "help"}"#).unwrap();
    let (help, _) = protocol::decode::<Request>(help).unwrap();
    assert_eq!(help, Request::Ocr { job: 8, name: "a.pdf".into(), language: "auto".into(), role: Role::Help });
    let odd = js_sys::JSON::parse(r#"{"type": "ocr", "job": 8, "name": "a.pdf", "role": "boss"}"#).unwrap();
    assert!(protocol::decode::<Request>(odd).is_err(), "an unknown role is refused");
    // The requests of a shared read.
    for req in [Request::ReadPage { job: 4, index: 2 }, Request::AddPage { job: 4, page: sample_page() }] {
        let msg = protocol::encode(&req, None).unwrap();
        let (back, _) = protocol::decode::<Request>(round_trip(&msg, &js_sys::Array::new()).await).unwrap();
        assert_eq!(back, req);
    }
    let read = js_sys::JSON::parse(r#"{"type": "read_page", "job": 4, "index": 1}"#).unwrap();
    assert_eq!(protocol::decode::<Request>(read).unwrap().0, Request::ReadPage { job: 4, index: 1 });
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
        Response::Planned { job: 1, ocr: vec![0, 2] },
        Response::Planned { job: 1, ocr: Vec::new() },
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
    let models = ocrchat_engine::ModelEngines::from_bytes(&spec, det, rec, dict, Default::default()).unwrap();
    let mut s = Session::new();
    s.set_models(models);
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

#[wasm_bindgen_test]
fn a_latin_language_reads_what_auto_reads() {
    // `en` reads with the head pruned to the Latin classes (made on first
    // need from the kept recogniser), `auto` with every class.
    let mut s = tiny_session();
    let mut texts = Vec::new();
    for (job, language) in [(1, "auto"), (2, "en"), (3, "fr"), (4, "auto")] {
        let mut text = None;
        s.ocr(job, "scan.pdf", mixed_pdf(), language, &mut |r, _| {
            if let Response::Done { text: t, .. } = r {
                text = Some(t);
            }
        })
        .unwrap();
        texts.push(text.expect("done"));
    }
    assert!(texts[0].contains("Invoice number 4201 from Acme"), "the scanned page is read: {:?}", texts[0]);
    assert!(texts.iter().all(|t| *t == texts[0]), "{texts:?}");
    assert_eq!(s.charset("en"), Some(ocrchat_engine::Charset::Latin), "en read with the pruned head");
    assert_eq!(s.charset("de"), Some(ocrchat_engine::Charset::Latin), "one pruned head for every Latin language");
    assert_eq!(s.charset("auto"), Some(ocrchat_engine::Charset::All));
}

/// A two-page PDF whose first page has a text layer and whose second is a
/// scan: [`two_page_pdf`]'s second page rendered by the engine and embedded
/// as a grey image. A read has a text-layer page and a page to OCR.
fn mixed_pdf() -> Vec<u8> {
    let born = two_page_pdf();
    let limits = ocrchat_engine::EngineConfig::default().limits;
    let rendered = ocrchat_engine::Source::open(&born, limits).unwrap().page(1).unwrap();
    let gray = image::imageops::grayscale(&rendered);
    let (w, h) = gray.dimensions();
    let mut pdf = Pdf::new();
    let (catalog, tree, font, scan) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    pdf.catalog(catalog).pages(tree);
    let pages = [Ref::new(10), Ref::new(20)];
    pdf.pages(tree).kids(pages).count(2);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    let mut img = pdf.image_xobject(scan, gray.as_raw());
    img.width(w as i32);
    img.height(h as i32);
    img.color_space().device_gray();
    img.bits_per_component(8);
    img.finish();
    for (i, page) in pages.into_iter().enumerate() {
        let content_id = Ref::new(page.get() + 1);
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
        p.parent(tree);
        p.contents(content_id);
        let mut resources = p.resources();
        resources.fonts().pair(Name(b"F1"), font);
        resources.x_objects().pair(Name(b"Im1"), scan);
        resources.finish();
        p.finish();
        let mut c = Content::new();
        if i == 0 {
            c.begin_text();
            c.set_font(Name(b"F1"), 24.0);
            c.next_line(72.0, 700.0);
            c.show(Str(b"Invoice number 4100 from Acme"));
            c.end_text();
        } else {
            c.save_state();
            c.transform([595.0, 0.0, 0.0, 842.0, 0.0, 0.0]);
            c.x_object(Name(b"Im1"));
            c.restore_state();
        }
        pdf.stream(content_id, &c.finish());
    }
    pdf.finish()
}

/// What a session emitted, without the payloads.
fn kinds(seen: &[Response]) -> Vec<&'static str> {
    seen.iter()
        .map(|r| match r {
            Response::Opened { .. } => "opened",
            Response::Page { .. } => "page",
            Response::Planned { .. } => "planned",
            Response::Done { .. } => "done",
            _ => "other",
        })
        .collect()
}

#[wasm_bindgen_test]
async fn a_file_shared_by_a_lead_and_a_helper_makes_the_job_a_whole_read_makes() {
    let pdf = mixed_pdf();
    let mut whole = tiny_session();
    let mut alone = Vec::new();
    whole.ocr(1, "mixed.pdf", pdf.clone(), "auto", &mut |r, _| alone.push(r)).unwrap();
    assert_eq!(kinds(&alone), ["opened", "page", "page", "done"]);

    // The lead reads the text-layer page and leaves the scan to OCR.
    let (mut lead, mut helper) = (tiny_session(), tiny_session());
    let mut led = Vec::new();
    lead.lead(1, "mixed.pdf", pdf.clone(), "auto", &mut |r, _| led.push(r)).unwrap();
    assert_eq!(kinds(&led), ["opened", "page", "planned"]);
    assert_eq!(led[2], Response::Planned { job: 1, ocr: vec![1] });
    assert_eq!(led[1], alone[1], "the text-layer page as a whole read has it");
    assert!(lead.export(1, ExportFormat::Txt).is_err(), "no job before every page is in");
    assert!(matches!(lead.read_page(1, 2, &mut |_, _| {}), Err(SessionError::NoPage { job: 1, index: 2 })));

    // The helper reads the scan; its page crosses to the lead as the app sends it.
    helper.help(1, "mixed.pdf", pdf.clone(), "auto").unwrap();
    let mut helped = Vec::new();
    helper
        .read_page(1, 1, &mut |r, p| {
            assert!(p.is_some(), "a page carries its preview");
            helped.push(r)
        })
        .unwrap();
    assert_eq!(kinds(&helped), ["page"]);
    assert_eq!(helped[0], alone[2], "the helper's page is the whole read's");
    let Response::Page { page, .. } = helped.remove(0) else { unreachable!() };
    assert!(page.text.contains("4201"), "the scan was read: {:?}", page.text);
    assert!(helper.export(1, ExportFormat::Txt).is_err(), "a helper keeps no job");
    helper.forget(1);
    assert!(matches!(helper.read_page(1, 1, &mut |_, _| {}), Err(SessionError::NoJob(1))), "forgotten");

    let msg = protocol::encode(&Request::AddPage { job: 1, page }, None).unwrap();
    let (add, _) = protocol::decode::<Request>(round_trip(&msg, &js_sys::Array::new()).await).unwrap();
    let Request::AddPage { job, page } = add else { panic!("{add:?}") };
    let mut done = Vec::new();
    lead.add_page(job, page, &mut |r, _| done.push(r)).unwrap();
    assert_eq!(kinds(&done), ["done"]);
    let (
        Response::Done { text, markdown, mean_confidence, .. },
        Response::Done { text: t, markdown: m, mean_confidence: c, .. },
    ) = (&done[0], &alone[3])
    else {
        unreachable!()
    };
    assert_eq!((text, markdown, mean_confidence), (t, m, c));
    for format in [ExportFormat::Txt, ExportFormat::Json, ExportFormat::Md, ExportFormat::Csv] {
        assert_eq!(lead.export(1, format).unwrap(), whole.export(1, format).unwrap(), "{format:?}");
    }
}

#[wasm_bindgen_test]
fn a_lead_reads_a_one_page_file_whole() {
    let limits = ocrchat_engine::EngineConfig::default().limits;
    let page = ocrchat_engine::Source::open(&two_page_pdf(), limits).unwrap().page(0).unwrap();
    let mut png = Vec::new();
    page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let (mut whole, mut lead) = (tiny_session(), tiny_session());
    let (mut alone, mut led) = (Vec::new(), Vec::new());
    whole.ocr(2, "one.png", png.clone(), "auto", &mut |r, _| alone.push(r)).unwrap();
    lead.lead(2, "one.png", png, "auto", &mut |r, _| led.push(r)).unwrap();
    assert_eq!(kinds(&led), ["opened", "page", "done"], "no `planned`: nothing to share");
    assert_eq!(led[..2], alone[..2]);
    assert_eq!(lead.export(2, ExportFormat::Json).unwrap(), whole.export(2, ExportFormat::Json).unwrap());
}
