//! The visitor side over HTTP: the share page, the widget panel, the loader script, and the
//! JSON endpoints the panel calls. Every endpoint that acts accepts only requests from this
//! server's own pages (`Origin` equal to `server.public_url`; the panel is one of those pages,
//! framed by the allowed website) and only with a visitor token for that bot.

use super::store::{self, PublicBot, UNAVAILABLE};
use super::visitors::{self, Visitor};
use super::{conversations, counts, page, tickets};
use crate::error::AppError;
use crate::features::chat::server::{answer, prompt};
use crate::features::chat::{markdown, ChatEvent, MessageView, Role, SourceView};
use crate::features::public::{normalise_site, site_allowed};
use crate::server::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;
use uuid::Uuid;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s/{bot}", get(share_page))
        .route("/embed/{bot}", get(embed_page))
        .route("/widget.js", get(page::widget_js))
        .route("/visitor-assets/{file}", get(page::asset))
        .route("/visitor/{bot}/config", get(widget_config))
        .route("/visitor/{bot}/session", post(start_session))
        .route("/visitor/{bot}/conversations", post(new_conversation))
        .route("/visitor/{bot}/conversations/{id}", get(read_conversation))
        .route("/visitor/{bot}/messages", post(send))
        .route("/visitor/{bot}/stop", post(stop))
        .route("/visitor/{bot}/rate", post(rate))
}

const SESSION_ENDED: &str = "This chat session has ended; reload the page to start again.";
const NOT_HERE: &str = "This assistant is not available on this website.";
const CANNOT_ANSWER: &str = "This assistant cannot answer right now; try again later.";

/// A refusal (or fault) as JSON `{"error": …}` with its status. Nothing of the owner's account
/// or of the server's internals is in the text.
fn refuse(e: AppError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = match &e {
        AppError::NotFound(what) if what == UNAVAILABLE => UNAVAILABLE.to_owned(),
        AppError::Unauthenticated => SESSION_ENDED.to_owned(),
        AppError::QuotaExceeded(_) => CANNOT_ANSWER.to_owned(),
        other => other.to_string(),
    };
    if status.is_server_error() {
        tracing::error!(%status, error = ?e, "visitor request failed");
    } else {
        tracing::info!(%status, error = %message, "visitor request refused");
    }
    (status, Json(json!({ "error": message }))).into_response()
}

/// Only this server's own pages may act for a visitor: a request from another site, or one
/// that hides where it came from (no `Origin`, or `null`), gets nothing.
fn from_our_pages(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if origin.eq_ignore_ascii_case(state.settings.public_origin()) {
        Ok(())
    } else {
        tracing::info!(origin, "visitor request from elsewhere refused");
        Err(AppError::CrossSiteRequest)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The published bot and the visitor asking, checked on every request: unpublishing, or
/// removing the visitor's website from the allowed list, ends the session at once.
async fn caller(state: &AppState, headers: &HeaderMap, public_id: &str) -> Result<(PublicBot, Visitor), AppError> {
    let bot = store::published(&state.db, public_id).await?;
    let token = bearer(headers).ok_or(AppError::Unauthenticated)?;
    let visitor = visitors::resolve(&state.db, bot.id, token).await?.ok_or(AppError::Unauthenticated)?;
    if visitor.channel == "widget" && !site_allowed(&visitor.site, &bot.publishing.allowed_sites) {
        return Err(AppError::Forbidden(NOT_HERE.into()));
    }
    Ok((bot, visitor))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn share_page(State(state): State<AppState>, Path(public_id): Path<String>) -> Response {
    let bot = match store::published(&state.db, &public_id).await {
        Ok(bot) => bot,
        Err(AppError::NotFound(_)) => return page::unavailable(StatusCode::NOT_FOUND, UNAVAILABLE),
        Err(e) => return refuse(e),
    };
    let key = match tickets::signing_key(&state.db).await {
        Ok(key) => key,
        Err(e) => return refuse(e),
    };
    let site = state.settings.public_origin().to_owned();
    let ticket = tickets::issue(&key, &public_id, "share", &site, now());
    // The owner's own app may frame it (the live preview in Share & embed); no one else.
    page::panel(&bot, page::Panel { channel: "share", site: &site, ticket: &ticket, page_url: "" }, "'self'")
}

#[derive(Deserialize)]
struct EmbedQuery {
    #[serde(default)]
    site: String,
    #[serde(default)]
    page: String,
}

async fn embed_page(State(state): State<AppState>, Path(public_id): Path<String>, Query(q): Query<EmbedQuery>) -> Response {
    let bot = match store::published(&state.db, &public_id).await {
        Ok(bot) => bot,
        Err(AppError::NotFound(_)) => return page::unavailable(StatusCode::NOT_FOUND, UNAVAILABLE),
        Err(e) => return refuse(e),
    };
    // The page may be framed only by the website it was asked for, and only if that website is
    // allowed: the browser itself refuses to show it anywhere else (`frame-ancestors`).
    let site = match normalise_site(&q.site) {
        Ok(site) if !site.contains('*') && site_allowed(&site, &bot.publishing.allowed_sites) => site,
        _ => return page::unavailable(StatusCode::FORBIDDEN, NOT_HERE),
    };
    let key = match tickets::signing_key(&state.db).await {
        Ok(key) => key,
        Err(e) => return refuse(e),
    };
    let ticket = tickets::issue(&key, &public_id, "widget", &site, now());
    page::panel(&bot, page::Panel { channel: "widget", site: &site, ticket: &ticket, page_url: &q.page }, &site)
}

/// `GET /visitor/{bot}/config`, for the loader on a website: the bot's look, readable (CORS)
/// only by an allowed website. Anyone else gets a refusal, and the loader draws nothing.
async fn widget_config(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bot = match store::published(&state.db, &public_id).await {
        Ok(bot) => bot,
        Err(e) => return refuse(e),
    };
    if !site_allowed(&origin, &bot.publishing.allowed_sites) {
        return refuse(AppError::Forbidden(NOT_HERE.into()));
    }
    let s = &bot.bot.settings;
    let body = json!({ "name": s.name, "accent": s.accent_color, "position": bot.publishing.widget_position, "open_on_load": bot.publishing.open_on_load });
    let mut response = Json(body).into_response();
    let h = response.headers_mut();
    if let Ok(origin) = HeaderValue::from_str(&origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Deserialize)]
struct SessionRequest {
    ticket: String,
    channel: String,
    site: String,
    #[serde(default)]
    token: Option<String>,
}

/// Keeps the visitor's session when its token is still good for this bot, channel and site;
/// otherwise starts a new one from the page's ticket.
async fn start_session(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap, Json(r): Json<SessionRequest>) -> Response {
    let started = async {
        from_our_pages(&state, &headers)?;
        let bot = store::published(&state.db, &public_id).await?;
        let key = tickets::signing_key(&state.db).await?;
        if !tickets::verify(&key, &r.ticket, &public_id, &r.channel, &r.site, now()) {
            return Err(AppError::Forbidden("This page has expired; reload it to chat.".into()));
        }
        if r.channel == "widget" && !site_allowed(&r.site, &bot.publishing.allowed_sites) {
            return Err(AppError::Forbidden(NOT_HERE.into()));
        }
        if let Some(token) = r.token.as_deref() {
            if let Some(v) = visitors::resolve(&state.db, bot.id, token).await? {
                if v.channel == r.channel && v.site == r.site {
                    return Ok(json!({ "token": token, "renewed": false }));
                }
            }
        }
        let (_, token) = visitors::create(&state.db, bot.id, &r.channel, &r.site).await?;
        Ok(json!({ "token": token, "renewed": true }))
    };
    match started.await {
        Ok(body) => Json(body).into_response(),
        Err(e) => refuse(e),
    }
}

#[derive(Deserialize, Default)]
struct NewConversation {
    #[serde(default)]
    page_url: Option<String>,
}

async fn new_conversation(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap, body: Option<Json<NewConversation>>) -> Response {
    let made = async {
        from_our_pages(&state, &headers)?;
        let (_, visitor) = caller(&state, &headers, &public_id).await?;
        let page_url = body.and_then(|Json(b)| b.page_url);
        conversations::create(&state.db, &visitor, "New conversation", page_url.as_deref()).await
    };
    match made.await {
        Ok(c) => Json(json!({ "id": c.id })).into_response(),
        Err(e) => refuse(e),
    }
}

fn public_source(s: &SourceView) -> Value {
    json!({ "n": s.n, "title": s.document_name, "location": s.location(), "text": s.text })
}

/// A message as a visitor may see it: the answer's text rendered (and sanitised) here, its
/// sources only when the owner shows them, nothing about models, timings or costs.
fn public_message(m: &MessageView, show_sources: bool) -> Value {
    let html = match m.role {
        Role::Assistant => markdown::render(&m.content, if show_sources { m.sources.len() } else { 0 }),
        Role::User => page::escape(&m.content),
    };
    let sources: Vec<Value> = if show_sources { m.sources.iter().map(public_source).collect() } else { Vec::new() };
    json!({ "id": m.id, "role": m.role, "html": html, "status": m.status, "error": m.error, "sources": sources, "feedback": m.feedback })
}

async fn read_conversation(State(state): State<AppState>, Path((public_id, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let read = async {
        let (bot, visitor) = caller(&state, &headers, &public_id).await?;
        let id = Uuid::parse_str(&id).map_err(|_| conversations::not_found())?;
        let conversation = conversations::owned(&state.db, &visitor, id).await?;
        let messages = crate::features::chat::server::store::messages(&state.db, conversation.id).await?;
        let show = bot.publishing.show_sources;
        Ok::<_, AppError>(json!({ "id": conversation.id, "messages": messages.iter().map(|m| public_message(m, show)).collect::<Vec<_>>() }))
    };
    match read.await {
        Ok(body) => Json(body).into_response(),
        Err(e) => refuse(e),
    }
}

#[derive(Deserialize)]
struct Ask {
    #[serde(default)]
    conversation: Option<Uuid>,
    text: String,
    #[serde(default)]
    page_url: Option<String>,
}

/// One answer event as the visitor's panel reads it (a line of JSON), or nothing when it is
/// something the visitor does not see.
fn visitor_line(line: &str, show_sources: bool) -> Option<String> {
    let event: ChatEvent = serde_json::from_str(line.trim()).ok()?;
    let value = match event {
        ChatEvent::Started { conversation, question, answer_id } => json!({ "t": "start", "conversation": conversation.id, "question": question.id, "answer": answer_id }),
        ChatEvent::Sources { .. } if !show_sources => return None,
        ChatEvent::Sources { sources } => json!({ "t": "sources", "sources": sources.iter().map(public_source).collect::<Vec<_>>() }),
        ChatEvent::Delta { text } => json!({ "t": "delta", "text": text }),
        ChatEvent::Done { answer } => json!({ "t": "done", "message": public_message(&answer, show_sources) }),
    };
    Some(format!("{value}\n"))
}

async fn send(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap, extensions: http::Extensions, Json(ask): Json<Ask>) -> Response {
    let started = Instant::now();
    let begun = async {
        from_our_pages(&state, &headers)?;
        let (bot, visitor) = caller(&state, &headers, &public_id).await?;
        let text = answer::checked_question(&state, &ask.text)?;
        let address = crate::features::auth::server::request::address_of(&headers, &extensions, &state.settings);
        if let Err(limited) = counts::spend(&state.db, &bot.publishing, bot.id, visitor.id, &address).await? {
            return Ok(Err((limited, bot.publishing.limit_message)));
        }
        answer::ensure_answer_allowance(&state.db, bot.owner, state.settings.chat.answers_per_day).await?;
        let conversation = match ask.conversation {
            Some(id) => conversations::owned(&state.db, &visitor, id).await?,
            None => conversations::create(&state.db, &visitor, &prompt::title_from(text), ask.page_url.as_deref()).await?,
        };
        let show = bot.publishing.show_sources;
        let stream = answer::answer_in(&state, bot.id, bot.bot, conversation, text, started).await?;
        Ok(Ok((stream, show)))
    };
    match begun.await {
        Ok(Ok((stream, show))) => {
            let lines = stream.filter_map(move |item| async move {
                match item {
                    Ok(line) => visitor_line(&line, show).map(Ok::<_, AppError>),
                    Err(e) => Some(Err(e)),
                }
            });
            let mut response = Body::from_stream(lines).into_response();
            let h = response.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson; charset=utf-8"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            response
        }
        Ok(Err((limited, message))) => {
            tracing::info!(bot = %public_id, retry_after = limited.retry_after_secs, "visitor limit reached");
            let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "error": message, "retry_after": limited.retry_after_secs }))).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(limited.retry_after_secs));
            response
        }
        Err(e) => refuse(e),
    }
}

#[derive(Deserialize)]
struct MessageRef {
    message: Uuid,
    #[serde(default)]
    rating: i16,
}

/// The published bot and the visitor, for an action on one of the visitor's own messages.
async fn own_message(state: &AppState, headers: &HeaderMap, public_id: &str, message: Uuid) -> Result<(PublicBot, Visitor), AppError> {
    from_our_pages(state, headers)?;
    let (bot, visitor) = caller(state, headers, public_id).await?;
    if !conversations::owns_message(&state.db, &visitor, message).await? {
        return Err(AppError::NotFound("Message".into()));
    }
    Ok((bot, visitor))
}

async fn stop(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap, Json(r): Json<MessageRef>) -> Response {
    match own_message(&state, &headers, &public_id, r.message).await {
        Ok((bot, _)) => match crate::features::chat::server::store::request_stop(&state.db, r.message, bot.owner).await {
            Ok(stopped) => Json(json!({ "stopped": stopped })).into_response(),
            Err(e) => refuse(e),
        },
        Err(e) => refuse(e),
    }
}

async fn rate(State(state): State<AppState>, Path(public_id): Path<String>, headers: HeaderMap, Json(r): Json<MessageRef>) -> Response {
    let rated = async {
        let (bot, _) = own_message(&state, &headers, &public_id, r.message).await?;
        let rating = if r.rating == 0 { None } else { Some(r.rating) };
        let m = crate::features::chat::server::store::set_feedback(&state.db, bot.owner, r.message, rating, "").await?;
        Ok::<_, AppError>(public_message(&m, bot.publishing.show_sources))
    };
    match rated.await {
        Ok(body) => Json(body).into_response(),
        Err(e) => refuse(e),
    }
}
