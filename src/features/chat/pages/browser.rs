//! The few things the chat page asks of the browser itself: copying a code block, and reading
//! which citation or copy button a click landed on. On the server these do nothing (they only
//! ever run from event handlers). Downloads are `ui::download`.

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
