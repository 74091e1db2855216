use leptos::prelude::*;

/// A bot's face: the uploaded image when there is one, else its emoji on its accent colour.
#[component]
pub fn BotAvatar(
    #[prop(into)] emoji: Signal<String>,
    #[prop(into)] image: Signal<Option<String>>,
    #[prop(into)] accent: Signal<String>,
    #[prop(default = "h-12 w-12 text-2xl")] size: &'static str,
) -> impl IntoView {
    view! {
        {move || match image.get() {
            Some(src) => view! {
                <img src=src alt="" class=format!("{size} rounded-full object-cover shrink-0") />
            }.into_any(),
            None => view! {
                <span
                    class=format!("{size} rounded-full shrink-0 inline-flex items-center justify-center")
                    style=move || format!("background-color: {}22", accent.get())
                    aria-hidden="true"
                >
                    {move || emoji.get()}
                </span>
            }.into_any(),
        }}
    }
}
