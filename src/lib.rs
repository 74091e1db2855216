#![recursion_limit = "256"]
//! ChatSphere: one crate compiled twice, as the server (`ssr`) and as the browser's WASM
//! (`hydrate`). Code is organised by feature; server-only parts sit behind `ssr`.

pub mod app;
pub mod domain;
pub mod error;
pub mod features;
pub mod layout;
pub mod lazy_pages;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod providers;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are lazy WASM chunks: hydration waits for the shown page's chunk to arrive.
    wasm_bindgen_futures::spawn_local(async {
        let body = leptos::prelude::document().body().expect("a page has a body");
        let owner = leptos::mount::hydrate_from_async(body.clone(), app::App).await;
        owner.forget();
        // A marker for tests and tools: from here on the page is interactive.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
