use leptos::prelude::*;

/// Runs before first paint so a dark-theme user never sees a white flash: the saved
/// choice, else the system preference. It also makes every theme toggle work, by one
/// listener on the document: pages served without WASM (sign-in, sign-up) have toggles too,
/// and on the others the toggle works before hydration.
pub const THEME_BOOT_SCRIPT: &str = "(function(){var d=document.documentElement;try{var t=localStorage.getItem('theme');\
if(t==='dark'||(!t&&matchMedia('(prefers-color-scheme: dark)').matches))d.classList.add('dark')}catch(e){}\
document.addEventListener('click',function(e){if(!e.target.closest||!e.target.closest('[data-theme-toggle]'))return;\
var dark=d.classList.toggle('dark');try{localStorage.setItem('theme',dark?'dark':'light')}catch(e){}})})()";

#[component]
pub fn ThemeToggle() -> impl IntoView {
    // No Rust handler: THEME_BOOT_SCRIPT's listener flips the theme.
    view! {
        <button type="button" data-theme-toggle="" class="btn-ghost" title="Switch light/dark theme" aria-label="Switch light/dark theme">
            <span class="dark:hidden">"☾"</span>
            <span class="hidden dark:inline">"☀"</span>
        </button>
    }
}
