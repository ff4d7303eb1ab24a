//! The ocrchat browser app (Leptos CSR). Placeholder crate: the app itself is
//! built in the browser-app issue; the workspace layout is fixed now so that
//! every crate has its home from the start.
