//! Entry point of the full OCR worker: the same runtime as `worker`, built
//! with PDF input (`--features pdf,docx`). The page starts it only when a PDF
//! arrives, so a first visit downloads the smaller `worker` alone.

fn main() {
    #[cfg(target_arch = "wasm32")]
    ocrchat_worker::runtime::start();
}
