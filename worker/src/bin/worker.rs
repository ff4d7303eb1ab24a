//! Entry point of the dedicated Web Worker (Trunk: `data-type="worker"`).
//! wasm-bindgen runs `main` when the worker loads the module.

fn main() {
    #[cfg(target_arch = "wasm32")]
    ocrchat_worker::runtime::start();
}
