use leptos::prelude::*;

/// Runs before first paint so a dark-theme user never sees a white flash: the saved
/// choice, else the system preference.
pub const THEME_BOOT_SCRIPT: &str = "(function(){try{var t=localStorage.getItem('theme');\
if(t==='dark'||(!t&&matchMedia('(prefers-color-scheme: dark)').matches))\
document.documentElement.classList.add('dark')}catch(e){}})()";

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let toggle = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let Some(window) = web_sys::window() else { return };
            let Some(root) = window.document().and_then(|d| d.document_element()) else { return };
            let dark = root.class_list().toggle("dark").unwrap_or(false);
            if let Ok(Some(storage)) = window.local_storage() {
                let _ = storage.set_item("theme", if dark { "dark" } else { "light" });
            }
        }
    };
    view! {
        <button type="button" on:click=toggle class="btn-ghost" title="Switch light/dark theme" aria-label="Switch light/dark theme">
            <span class="dark:hidden">"☾"</span>
            <span class="hidden dark:inline">"☀"</span>
        </button>
    }
}
