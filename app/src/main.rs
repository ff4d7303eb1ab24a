//! The ocrchat browser app: files are read by the engine in a Web Worker, in
//! this browser (tier `cpu`), or by the server's vision model (tier `vlm`).
//! `main` only mounts; state and worker traffic live in `app`, screens in
//! `components`.

mod api;
mod app;
mod components;
mod model;
mod util;
mod worker;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
