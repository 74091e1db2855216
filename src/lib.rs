#![recursion_limit = "256"]
//! ChatSphere: one crate compiled twice, as the server (`ssr`) and as the browser's WASM
//! (`hydrate`). Code is organised by feature; server-only parts sit behind `ssr`.

pub mod app;
pub mod domain;
pub mod error;
pub mod features;
pub mod layout;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod providers;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for tests and tools: from here on the page is interactive.
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
