//! The visitor panel as server-rendered HTML (welcome message and suggested questions are
//! there before any script runs) plus its small script and style sheet, and the widget loader.
//! No WebAssembly: a visitor downloads a few kilobytes, not the owner app.

use super::store::PublicBot;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub const PANEL_JS: &str = include_str!("../assets/panel.js");
pub const PANEL_CSS: &str = include_str!("../assets/panel.css");
pub const WIDGET_JS: &str = include_str!("../assets/widget.js");

/// A content hash in the assets' URLs, so they can be cached for a year and still change with
/// every release.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new().chain_update(PANEL_JS).chain_update(PANEL_CSS).finalize();
    hex::encode(&digest[..6])
});

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The policy of a visitor page: our own script and styles only, requests only to us, and
/// framing only by `frame_ancestors` (`'none'` for the share page, the one allowed website
/// for the widget panel).
fn policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )
}

fn html_response(status: StatusCode, body: String, frame_ancestors: &str, indexable: bool) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(p) = HeaderValue::from_str(&policy(frame_ancestors)) {
        h.insert(header::CONTENT_SECURITY_POLICY, p);
    }
    if !indexable {
        h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    }
    response
}

pub fn unavailable(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Not available</title><link rel=\"stylesheet\" href=\"/visitor-assets/panel.css?v={v}\"></head>\
         <body class=\"cs-unavailable\"><main><p>{m}</p></main></body></html>",
        v = *VERSION,
        m = escape(message)
    );
    html_response(status, body, "'none'", false)
}

pub struct Panel<'a> {
    pub channel: &'a str,
    pub site: &'a str,
    pub ticket: &'a str,
    pub page_url: &'a str,
}

/// The visitor panel for `bot`.
pub fn panel(bot: &PublicBot, p: Panel<'_>, frame_ancestors: &str) -> Response {
    let s = &bot.bot.settings;
    let public_id = &bot.bot.public_id;
    let accent = if s.accent_color.starts_with('#') && s.accent_color.len() == 7 && s.accent_color[1..].bytes().all(|b| b.is_ascii_hexdigit()) { s.accent_color.as_str() } else { "#4f46e5" };
    let avatar = match &bot.bot.avatar_url {
        Some(url) => format!("<img class=\"cs-avatar\" src=\"{}\" alt=\"\">", escape(url)),
        None => format!("<span class=\"cs-avatar\" aria-hidden=\"true\">{}</span>", escape(&s.avatar_emoji)),
    };
    let suggestions: String = s
        .suggested_questions
        .iter()
        .map(|q| format!("<li><button type=\"button\" class=\"cs-suggestion\">{}</button></li>", escape(q)))
        .collect();
    let close = if p.channel == "widget" { "<button type=\"button\" class=\"cs-icon\" id=\"cs-close\" aria-label=\"Close chat\">×</button>" } else { "" };
    let robots = if bot.publishing.indexable && p.channel == "share" { "" } else { "<meta name=\"robots\" content=\"noindex\">" };
    let body = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">{robots}
<title>{name}</title>
<link rel="stylesheet" href="/visitor-assets/panel.css?v={v}">
<script src="/visitor-assets/panel.js?v={v}" defer></script>
</head>
<body class="cs-{channel}" style="--cs-accent:{accent}" data-bot="{public_id}" data-channel="{channel}" data-site="{site}" data-ticket="{ticket}" data-page="{page}">
<div class="cs-panel">
<header class="cs-header">{avatar}<h1>{name}</h1>
<button type="button" class="cs-icon" id="cs-new" aria-label="New conversation" title="New conversation">↺</button>{close}</header>
<main class="cs-log" id="cs-log" aria-live="polite" aria-label="Conversation">
<div class="cs-msg cs-bot cs-welcome"><div class="cs-bubble">{welcome}</div></div>
<ul class="cs-suggestions" aria-label="Suggested questions">{suggestions}</ul>
</main>
<p class="cs-error" id="cs-error" role="alert" hidden></p>
<form class="cs-form" id="cs-form">
<label class="cs-sr" for="cs-input">Your message</label>
<textarea id="cs-input" name="text" rows="1" maxlength="{max}" placeholder="Ask a question…" required></textarea>
<button type="submit" class="cs-send" id="cs-send">Send</button>
<button type="button" class="cs-stop" id="cs-stop" hidden>Stop</button>
</form>
</div>
</body></html>"#,
        name = escape(&s.name),
        v = *VERSION,
        channel = p.channel,
        site = escape(p.site),
        ticket = escape(p.ticket),
        page = escape(p.page_url),
        welcome = escape(&s.welcome_message),
        max = 4000,
    );
    html_response(StatusCode::OK, body, frame_ancestors, bot.publishing.indexable && p.channel == "share")
}

fn script(body: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET /widget.js`: the loader websites include. Cached briefly, so a release reaches
/// every website within minutes.
pub async fn widget_js() -> Response {
    script(WIDGET_JS, "public, max-age=300")
}

/// `GET /visitor-assets/{panel.js,panel.css}?v=…`: immutable for a year.
pub async fn asset(Path(file): Path<String>) -> Response {
    const YEAR: &str = "public, max-age=31536000, immutable";
    match file.as_str() {
        "panel.js" => script(PANEL_JS, YEAR),
        "panel.css" => {
            let mut response = PANEL_CSS.into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(YEAR));
            response
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
