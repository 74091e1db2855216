//! The few things the chat page asks of the browser itself: downloading an export, copying a
//! code block, and reading which citation or copy button a click landed on. On the server
//! these do nothing (they only ever run from event handlers).

use crate::features::chat::ExportFile;

/// What a click inside an answer meant.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum AnswerClick {
    Cite(u16),
    Copied,
    Nothing,
}

#[cfg(feature = "hydrate")]
pub fn answer_click(ev: &leptos::ev::MouseEvent) -> AnswerClick {
    use wasm_bindgen::JsCast;
    let Some(target) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else { return AnswerClick::Nothing };
    if let Ok(Some(cite)) = target.closest("[data-cite]") {
        return cite.get_attribute("data-cite").and_then(|n| n.parse().ok()).map(AnswerClick::Cite).unwrap_or(AnswerClick::Nothing);
    }
    if let Ok(Some(button)) = target.closest("[data-copy]") {
        let code = button.parent_element().and_then(|block| block.query_selector("pre").ok().flatten()).and_then(|pre| pre.text_content());
        if let (Some(code), Some(window)) = (code, web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&code);
            button.set_text_content(Some("Copied"));
            return AnswerClick::Copied;
        }
    }
    AnswerClick::Nothing
}

#[cfg(not(feature = "hydrate"))]
pub fn answer_click(_: &leptos::ev::MouseEvent) -> AnswerClick {
    AnswerClick::Nothing
}

#[cfg(feature = "hydrate")]
pub fn download(file: &ExportFile) {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&file.body));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&format!("{};charset=utf-8", file.mime));
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Some(a) = document.create_element("a").ok().and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok()) {
        a.set_href(&url);
        a.set_download(&file.filename);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[cfg(not(feature = "hydrate"))]
pub fn download(_: &ExportFile) {}
