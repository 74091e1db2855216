//! Public bots over HTTP against PostgreSQL and the real local model: publishing and who may
//! change it, the share page for strangers, visitor sessions from tickets, streamed cited
//! answers, privacy between visitors, the origin rules, the widget's allowed websites, visitor
//! limits that survive a cleared browser, and unpublishing that ends everything at once.

mod common;

use axum::body::Body;
use chatsphere::features::knowledge::server::store::{self as documents, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use common::{call, ORIGIN};
use http::{header, Request, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

const GUIDE: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n";

struct Owner {
    app: axum::Router,
    cookie: String,
    bot: String,
}

async fn owner_with_bot(db: &PgPool, app: axum::Router, email: &str) -> Owner {
    let cookie = common::signed_up_as(&app, email).await;
    let created = call(&app, "bots/create", &[("name", "Harbour")], Some(ORIGIN), Some(&cookie)).await;
    let bot = serde_json::from_str::<Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT owner_id FROM bots WHERE public_id = $1").bind(&bot).fetch_one(db).await.unwrap();
    let doc = NewDocument { name: "guide.md", source: "upload", mime: "text/markdown", bytes: GUIDE.as_bytes().to_vec() };
    documents::add(db, owner, &bot, doc).await.unwrap();
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    while worker::run_once(db, &knowledge, &common::providers(db), "test").await.unwrap() {}
    Owner { app, cookie, bot }
}

/// Saves the share settings as the form does; `extra` overrides fields.
async fn save_share(o: &Owner, cookie: &str, published: bool, sites: &str, extra: &[(&str, &str)]) -> common::Reply {
    let mut form: Vec<(&str, &str)> = vec![
        ("bot_id", o.bot.as_str()),
        ("allowed_sites", sites),
        ("per_visitor_minute", "6"),
        ("per_visitor_day", "60"),
        ("per_address_day", "150"),
        ("per_bot_day", "1000"),
        ("per_bot_month", "20000"),
        ("limit_message", "Slow down, sailor."),
        ("show_sources", "on"),
        ("widget_position", "right"),
    ];
    if published {
        form.push(("published", "on"));
    }
    for (k, v) in extra {
        form.retain(|(key, _)| key != k);
        form.push((k, v));
    }
    call(&o.app, "public/save_share", &form, Some(ORIGIN), Some(cookie)).await
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {} {}", self.status, self.body))
    }
    /// The lines of a streamed answer.
    fn events(&self) -> Vec<Value> {
        self.body.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

async fn send(app: &axum::Router, method: &str, path: &str, body: Option<Value>, origin: Option<&str>, token: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:3000");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match body {
        Some(b) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

/// `data-name="value"` from a panel page.
fn attribute(html: &str, name: &str) -> String {
    let start = html.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("{name} in page")) + name.len() + 2;
    html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&")
}

/// A visitor of the share page: the page, then a session from its ticket.
async fn share_visitor(o: &Owner) -> String {
    let page = send(&o.app, "GET", &format!("/s/{}", o.bot), None, None, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = json!({ "ticket": attribute(&page.body, "data-ticket"), "channel": "share", "site": attribute(&page.body, "data-site") });
    let session = send(&o.app, "POST", &format!("/visitor/{}/session", o.bot), Some(body), Some(ORIGIN), None).await;
    assert_eq!(session.status, 200, "{}", session.body);
    session.json()["token"].as_str().unwrap().to_owned()
}

async fn ask(o: &Owner, token: &str, conversation: Option<&str>, text: &str) -> Reply {
    send(&o.app, "POST", &format!("/visitor/{}/messages", o.bot), Some(json!({ "conversation": conversation, "text": text })), Some(ORIGIN), Some(token)).await
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn only_the_owner_publishes_and_every_entry_is_checked(db: PgPool) {
    let app = common::app(db.clone());
    let ada = owner_with_bot(&db, app.clone(), "ada@example.com").await;
    let eve = common::signed_up_as(&app, "eve@example.com").await;

    let private = send(&app, "GET", &format!("/s/{}", ada.bot), None, None, None).await;
    assert_eq!(private.status, 404);
    assert!(private.body.contains("This assistant is not available."));

    let stranger = save_share(&ada, &eve, true, "https://evil.example", &[]).await;
    assert_eq!(stranger.status, 404, "another owner cannot publish or change the allowlist: {}", stranger.body);
    let read = call(&app, "public/share", &[("bot_id", ada.bot.as_str())], Some(ORIGIN), Some(&eve)).await;
    assert_eq!(read.status, 404);
    assert_eq!(send(&app, "GET", &format!("/s/{}", ada.bot), None, None, None).await.status, 404, "still private");

    let bad = save_share(&ada, &ada.cookie, true, "https://shop.example/path", &[]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("allowed_sites") && bad.body.contains("without a path"), "{}", bad.body);
    let bad = save_share(&ada, &ada.cookie, true, "", &[("per_visitor_minute", "0")]).await;
    assert!(bad.status == 400 && bad.body.contains("per_visitor_minute"), "{}", bad.body);
    assert_eq!(send(&app, "GET", &format!("/s/{}", ada.bot), None, None, None).await.status, 404, "a refused save publishes nothing");

    let saved = save_share(&ada, &ada.cookie, true, "Shop.Example/\nhttps://*.example.com", &[]).await;
    assert!(saved.status.is_success(), "{}", saved.body);
    let info: Value = serde_json::from_str(&saved.body).unwrap();
    assert_eq!(info["published"], true);
    assert_eq!(info["publishing"]["allowed_sites"], json!(["https://shop.example", "https://*.example.com"]));
    assert_eq!(info["share_url"], format!("http://127.0.0.1:3000/s/{}", ada.bot));
    assert!(info["script_snippet"].as_str().unwrap().contains(&format!("/widget.js\" data-bot=\"{}\"", ada.bot)));

    // The editor's own save no longer changes publishing (one concept, one place).
    let bot = call(&app, "bots/get", &[("public_id", ada.bot.as_str())], Some(ORIGIN), Some(&ada.cookie)).await;
    assert!(bot.body.contains("\"visibility\":\"public\""), "{}", bot.body);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_stranger_chats_on_the_share_page_and_visitors_stay_apart(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app, "ada@example.com").await;
    assert!(save_share(&o, &o.cookie, true, "", &[]).await.status.is_success());

    let page = send(&o.app, "GET", &format!("/s/{}", o.bot), None, None, None).await;
    assert!(page.body.contains("Hi! I&#39;m Harbour."), "the welcome is there before any script: {}", page.body);
    assert!(page.body.contains("<meta name=\"robots\" content=\"noindex\">"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'self'") && csp.contains("script-src 'self';"), "{csp}");
    assert!(!page.body.contains("/pkg/chatsphere"), "visitors do not load the owner app");

    let a = share_visitor(&o).await;
    let answer = ask(&o, &a, None, "When does the harbour office close?").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/x-ndjson; charset=utf-8");
    let events = answer.events();
    assert_eq!(events[0]["t"], "start");
    let conversation = events[0]["conversation"].as_str().unwrap().to_owned();
    let sources = events.iter().find(|e| e["t"] == "sources").expect("sources are shown");
    assert_eq!(sources["sources"][0]["title"], "guide.md");
    let done = events.last().unwrap();
    assert_eq!(done["t"], "done");
    assert_eq!(done["message"]["status"], "complete");
    assert!(done["message"]["html"].as_str().unwrap().contains("6 pm"), "{done}");
    assert!(done["message"].get("model").is_none() && done["message"].get("tokens_in").is_none(), "nothing about the owner's model or costs");

    // The conversation continues, and reads back, for its visitor only.
    let follow = ask(&o, &a, Some(&conversation), "And the ferries?").await;
    assert_eq!(follow.events()[0]["conversation"], conversation.as_str());
    let read = send(&o.app, "GET", &format!("/visitor/{}/conversations/{conversation}", o.bot), None, None, Some(&a)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["messages"].as_array().unwrap().len(), 4);

    let b = share_visitor(&o).await;
    assert_ne!(a, b);
    let other = send(&o.app, "GET", &format!("/visitor/{}/conversations/{conversation}", o.bot), None, None, Some(&b)).await;
    assert_eq!(other.status, 404, "visitor B cannot read A's conversation");
    let into = ask(&o, &b, Some(&conversation), "Hello?").await;
    assert_eq!(into.status, 404, "nor write into it");
    let message = done["message"]["id"].as_str().unwrap();
    let rate = send(&o.app, "POST", &format!("/visitor/{}/rate", o.bot), Some(json!({ "message": message, "rating": -1 })), Some(ORIGIN), Some(&b)).await;
    assert_eq!(rate.status, 404, "nor rate its answers");
    let stop = send(&o.app, "POST", &format!("/visitor/{}/stop", o.bot), Some(json!({ "message": message })), Some(ORIGIN), Some(&b)).await;
    assert_eq!(stop.status, 404, "nor stop them");
    let stop = send(&o.app, "POST", &format!("/visitor/{}/stop", o.bot), Some(json!({ "message": message })), Some(ORIGIN), Some(&a)).await;
    assert_eq!((stop.status, stop.json()["stopped"].as_bool()), (StatusCode::OK, Some(false)), "its own, already finished");
    let rate = send(&o.app, "POST", &format!("/visitor/{}/rate", o.bot), Some(json!({ "message": message, "rating": -1 })), Some(ORIGIN), Some(&a)).await;
    assert_eq!((rate.status, rate.json()["feedback"].as_i64()), (StatusCode::OK, Some(-1)));

    // Markup a visitor types comes back as text, never as markup.
    let typed = ask(&o, &b, None, "<img src=x onerror=alert(1)> hello").await;
    assert_eq!(typed.status, 200);
    let typed_conversation = typed.events()[0]["conversation"].as_str().unwrap().to_owned();
    let read_back = send(&o.app, "GET", &format!("/visitor/{}/conversations/{typed_conversation}", o.bot), None, None, Some(&b)).await;
    let first = &read_back.json()["messages"][0]["html"];
    assert_eq!(first, "&lt;img src=x onerror=alert(1)&gt; hello");

    // The visitor's conversation is stored as theirs, on the share channel, not the owner's.
    let (channel, user): (String, Option<uuid::Uuid>) = sqlx::query_as("SELECT channel, user_id FROM conversations WHERE id = $1::uuid").bind(&conversation).fetch_one(&db).await.unwrap();
    assert_eq!((channel.as_str(), user), ("share", None));
    let owners = call(&o.app, "chat/conversations", &[("bot_id", o.bot.as_str())], Some(ORIGIN), Some(&o.cookie)).await;
    assert_eq!(owners.body.trim(), "[]", "the owner's own chat list stays the owner's");

    // A reset starts a really new conversation.
    let fresh = send(&o.app, "POST", &format!("/visitor/{}/conversations", o.bot), Some(json!({})), Some(ORIGIN), Some(&a)).await;
    let fresh_id = fresh.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(fresh_id, conversation);
    let in_fresh = ask(&o, &a, Some(&fresh_id), "When does the harbour office close?").await;
    assert_eq!(in_fresh.events()[0]["conversation"], fresh_id.as_str());
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn requests_that_are_not_from_our_pages_or_lack_a_session_get_nothing(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app, "ada@example.com").await;
    assert!(save_share(&o, &o.cookie, true, "http://localhost:3102", &[]).await.status.is_success());
    let token = share_visitor(&o).await;
    let path = format!("/visitor/{}/messages", o.bot);
    let question = json!({ "text": "When does the harbour office close?" });
    for origin in [Some("http://localhost:3102"), Some("null"), None, Some("https://evil.example")] {
        let r = send(&o.app, "POST", &path, Some(question.clone()), origin, Some(&token)).await;
        assert_eq!(r.status, 403, "origin {origin:?}: {}", r.body);
    }
    let r = send(&o.app, "POST", &path, Some(question.clone()), Some(ORIGIN), None).await;
    assert_eq!(r.status, 401, "no session: {}", r.body);
    let r = send(&o.app, "POST", &path, Some(question.clone()), Some(ORIGIN), Some(&"ab".repeat(32))).await;
    assert_eq!(r.status, 401, "a made-up session: {}", r.body);

    // A ticket is bound to its bot, channel and site: the share page's ticket does not start a
    // widget session for a site, and a forged one starts nothing.
    let page = send(&o.app, "GET", &format!("/s/{}", o.bot), None, None, None).await;
    let ticket = attribute(&page.body, "data-ticket");
    for (channel, site, t) in [("widget", "http://localhost:3102", ticket.as_str()), ("share", ORIGIN, "99999999999.00")] {
        let r = send(&o.app, "POST", &format!("/visitor/{}/session", o.bot), Some(json!({ "ticket": t, "channel": channel, "site": site })), Some(ORIGIN), None).await;
        assert_eq!(r.status, 403, "{channel} {site}: {}", r.body);
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_widget_loads_only_on_allowed_websites(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app, "ada@example.com").await;
    assert!(save_share(&o, &o.cookie, true, "http://localhost:3102", &[("widget_position", "left")]).await.status.is_success());

    let config = |origin: &'static str| {
        let (app, bot) = (o.app.clone(), o.bot.clone());
        async move { send(&app, "GET", &format!("/visitor/{bot}/config"), None, Some(origin), None).await }
    };
    let allowed = config("http://localhost:3102").await;
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://localhost:3102");
    assert_eq!(allowed.json()["position"], "left");
    let denied = config("http://localhost:3103").await;
    assert_eq!(denied.status, 403);
    assert!(denied.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "the loader on another site cannot read it");

    let panel = send(&o.app, "GET", &format!("/embed/{}?site=http%3A%2F%2Flocalhost%3A3102&page=http%3A%2F%2Flocalhost%3A3102%2Fshop", o.bot), None, None, None).await;
    assert_eq!(panel.status, 200);
    let csp = panel.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.ends_with("frame-ancestors http://localhost:3102"), "{csp}");
    assert!(panel.headers.get(header::X_FRAME_OPTIONS).is_none());
    let elsewhere = send(&o.app, "GET", &format!("/embed/{}?site=https%3A%2F%2Fevil.example", o.bot), None, None, None).await;
    assert_eq!(elsewhere.status, 403);
    assert!(elsewhere.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));

    // A widget session on the allowed site, then the owner removes the site: it ends at once.
    let body = json!({ "ticket": attribute(&panel.body, "data-ticket"), "channel": "widget", "site": "http://localhost:3102" });
    let token = send(&o.app, "POST", &format!("/visitor/{}/session", o.bot), Some(body), Some(ORIGIN), None).await.json()["token"].as_str().unwrap().to_owned();
    let asked = send(&o.app, "POST", &format!("/visitor/{}/messages", o.bot), Some(json!({ "text": "Ferries?", "page_url": "http://localhost:3102/shop" })), Some(ORIGIN), Some(&token)).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let (channel, page): (String, Option<String>) = sqlx::query_as("SELECT channel, page_url FROM conversations WHERE visitor_id IS NOT NULL").fetch_one(&db).await.unwrap();
    assert_eq!((channel.as_str(), page.as_deref()), ("widget", Some("http://localhost:3102/shop")));
    assert!(save_share(&o, &o.cookie, true, "https://shop.example", &[]).await.status.is_success());
    let after = send(&o.app, "POST", &format!("/visitor/{}/messages", o.bot), Some(json!({ "text": "Ferries?" })), Some(ORIGIN), Some(&token)).await;
    assert_eq!(after.status, 403, "{}", after.body);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn limits_hold_after_the_browser_forgets_and_unpublishing_ends_everything(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app, "ada@example.com").await;
    let limits = [("per_visitor_minute", "2"), ("per_address_day", "3")];
    assert!(save_share(&o, &o.cookie, true, "", &limits).await.status.is_success());

    let first = share_visitor(&o).await;
    for _ in 0..2 {
        assert_eq!(ask(&o, &first, None, "Ferries?").await.status, 200);
    }
    let limited = ask(&o, &first, None, "Ferries?").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"], "Slow down, sailor.", "the owner's text");
    let wait: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");

    // Cleared storage: a new visitor from the same address still has only the address's quota.
    let second = share_visitor(&o).await;
    assert_eq!(ask(&o, &second, None, "Ferries?").await.status, 200, "the third message of the address");
    assert_eq!(ask(&o, &second, None, "Ferries?").await.status, 429, "the address's day is used up");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE role = 'user'").fetch_one(&db).await.unwrap();
    assert_eq!(stored, 3, "a refused message leaves no trace");

    assert!(save_share(&o, &o.cookie, false, "", &[]).await.status.is_success());
    let gone = ask(&o, &second, None, "Ferries?").await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"], "This assistant is not available.");
    assert_eq!(send(&o.app, "GET", &format!("/s/{}", o.bot), None, None, None).await.status, 404);
}

/// A filter as the page sends it (every field), with `set` changed.
fn filter_form(set: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields = vec![("channel", ""), ("from", ""), ("to", ""), ("thumbs_down", "false"), ("unanswered", "false")];
    for (k, v) in set {
        fields.iter_mut().filter(|(key, _)| key == k).for_each(|f| f.1 = v);
    }
    fields.into_iter().map(|(k, v)| (format!("filter[{k}]"), v.to_owned())).collect()
}

async fn inbox_call(o: &Owner, endpoint: &str, cookie: &str, filter: &[(&str, &str)], extra: &[(&str, &str)]) -> common::Reply {
    let mut form = vec![("bot_id".to_string(), o.bot.clone())];
    form.extend(filter_form(filter));
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    call(&o.app, endpoint, &form, Some(ORIGIN), Some(cookie)).await
}

/// The inbox over HTTP as the page calls it.
async fn inbox(o: &Owner, cookie: &str, filter: &[(&str, &str)]) -> common::Reply {
    inbox_call(o, "inbox/list", cookie, filter, &[]).await
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn the_inbox_shows_every_channel_filters_and_exports_for_the_owner_only(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app.clone(), "ada@example.com").await;
    assert!(save_share(&o, &o.cookie, true, "http://localhost:3102", &[]).await.status.is_success());

    // The owner's own test, a share-page visitor, a widget visitor.
    let own = call(&app, "chat/send", &[("bot_id", o.bot.as_str()), ("conversation_id", ""), ("text", "When do ferries leave?")], Some(ORIGIN), Some(&o.cookie)).await;
    assert!(own.status.is_success(), "{}", own.body);
    let share = share_visitor(&o).await;
    let asked = ask(&o, &share, None, "=HYPERLINK(\"http://evil.example\")").await;
    assert_eq!(asked.status, 200);
    let panel = send(&app, "GET", &format!("/embed/{}?site=http%3A%2F%2Flocalhost%3A3102", o.bot), None, None, None).await;
    let body = json!({ "ticket": attribute(&panel.body, "data-ticket"), "channel": "widget", "site": "http://localhost:3102" });
    let widget = send(&app, "POST", &format!("/visitor/{}/session", o.bot), Some(body), Some(ORIGIN), None).await.json()["token"].as_str().unwrap().to_owned();
    let answer = send(&app, "POST", &format!("/visitor/{}/messages", o.bot), Some(json!({ "text": "When does the harbour office close?", "page_url": "http://localhost:3102/pricing" })), Some(ORIGIN), Some(&widget)).await;
    let message = answer.events().last().unwrap()["message"]["id"].as_str().unwrap().to_owned();
    let rated = send(&app, "POST", &format!("/visitor/{}/rate", o.bot), Some(json!({ "message": message, "rating": -1 })), Some(ORIGIN), Some(&widget)).await;
    assert_eq!(rated.status, 200);

    let all = inbox(&o, &o.cookie, &[]).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let rows: Vec<Value> = serde_json::from_str(&all.body).unwrap();
    let mut channels: Vec<&str> = rows.iter().map(|r| r["channel"].as_str().unwrap()).collect();
    channels.sort();
    assert_eq!(channels, ["owner", "share", "widget"]);
    let w = rows.iter().find(|r| r["channel"] == "widget").unwrap();
    assert_eq!((w["site"].as_str(), w["page_url"].as_str()), (Some("http://localhost:3102"), Some("http://localhost:3102/pricing")));
    assert!(w["visitor"].as_str().unwrap().starts_with("Visitor "));
    assert_eq!((w["messages"].as_i64(), w["thumbs_down"].as_i64()), (Some(2), Some(1)));
    assert_eq!(rows.iter().find(|r| r["channel"] == "owner").unwrap()["visitor"], "You");

    let widget_only: Vec<Value> = serde_json::from_str(&inbox(&o, &o.cookie, &[("channel", "widget")]).await.body).unwrap();
    assert_eq!(widget_only.len(), 1);
    let disliked: Vec<Value> = serde_json::from_str(&inbox(&o, &o.cookie, &[("thumbs_down", "true")]).await.body).unwrap();
    assert_eq!(disliked.len(), 1);
    assert_eq!(disliked[0]["channel"], "widget");
    let unanswered: Vec<Value> = serde_json::from_str(&inbox(&o, &o.cookie, &[("unanswered", "true")]).await.body).unwrap();
    assert_eq!(unanswered.iter().map(|r| r["channel"].as_str().unwrap()).collect::<Vec<_>>(), ["share"], "the formula question found nothing");
    let future: Vec<Value> = serde_json::from_str(&inbox(&o, &o.cookie, &[("from", "2999-01-01")]).await.body).unwrap();
    assert!(future.is_empty());
    let bad = inbox(&o, &o.cookie, &[("from", "yesterday")]).await;
    assert!(bad.status == 400 && bad.body.contains("\"from\""), "{}", bad.body);

    // The transcript of a visitor's conversation, with its sources.
    let t = call(&app, "inbox/transcript", &[("conversation_id", w["id"].as_str().unwrap())], Some(ORIGIN), Some(&o.cookie)).await;
    assert_eq!(t.status, 200);
    assert!(t.body.contains("guide.md") && t.body.contains("When does the harbour office close?"));

    // Exports: every message, and a visitor's formula is inert in the spreadsheet.
    let csv = inbox_call(&o, "inbox/export", &o.cookie, &[], &[("format", "csv")]).await;
    let file: Value = serde_json::from_str(&csv.body).unwrap();
    let body = file["body"].as_str().unwrap();
    assert!(body.contains("'=HYPERLINK") && !body.contains(",=HYPERLINK"), "{body}");
    let records = csv::Reader::from_reader(body.as_bytes()).records().count();
    assert_eq!(records, 6, "six messages: {body}");
    let json_export = inbox_call(&o, "inbox/export", &o.cookie, &[], &[("format", "json")]).await;
    let parsed: Vec<Value> = serde_json::from_str(serde_json::from_str::<Value>(&json_export.body).unwrap()["body"].as_str().unwrap()).unwrap();
    assert_eq!(parsed.len(), 3);

    // Analytics counts visitors per channel.
    use chatsphere::features::analytics::{server as analytics, ReportQuery};
    let owner: uuid::Uuid = sqlx::query_scalar("SELECT owner_id FROM bots WHERE public_id = $1").bind(&o.bot).fetch_one(&db).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    let query = ReportQuery { bot: Some(o.bot.clone()), from: today - chrono::Days::new(1), to: today + chrono::Days::new(1), time_zone: "UTC".into() };
    let scope = analytics::scope(&db, owner, &query).await.unwrap();
    let report = analytics::figures::report(&db, &scope, &query, &[]).await.unwrap();
    let mut seen: Vec<(String, i64, i64)> = report.channels.iter().map(|c| (c.channel.clone(), c.visitors, c.questions)).collect();
    seen.sort();
    assert_eq!(seen, [("owner".to_string(), 1, 1), ("share".into(), 1, 1), ("widget".into(), 1, 1)]);
    assert_eq!(report.totals.visitors, 3, "each visitor counts once, the owner too");

    // Another owner sees none of it.
    let eve = common::signed_up_as(&app, "eve@example.com").await;
    assert_eq!(inbox(&o, &eve, &[]).await.status, 404);
    assert_eq!(call(&app, "inbox/transcript", &[("conversation_id", w["id"].as_str().unwrap())], Some(ORIGIN), Some(&eve)).await.status, 404);
    assert_eq!(inbox_call(&o, "inbox/export", &eve, &[], &[("format", "csv")]).await.status, 404);
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn with_sources_hidden_visitors_learn_no_document_names(db: PgPool) {
    let app = common::app(db.clone());
    let o = owner_with_bot(&db, app, "ada@example.com").await;
    let mut form = vec![("bot_id", o.bot.as_str()), ("published", "on"), ("allowed_sites", ""), ("per_visitor_minute", "6"), ("per_visitor_day", "60")];
    form.extend([("per_address_day", "150"), ("per_bot_day", "1000"), ("per_bot_month", "20000"), ("limit_message", "Later."), ("widget_position", "right")]);
    let saved = call(&o.app, "public/save_share", &form, Some(ORIGIN), Some(&o.cookie)).await;
    assert!(saved.body.contains("\"show_sources\":false"), "{}", saved.body);
    let visitor = share_visitor(&o).await;
    let answer = ask(&o, &visitor, None, "When does the harbour office close?").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("6 pm"), "still answered from the knowledge: {}", answer.body);
    assert!(!answer.body.contains("guide.md") && !answer.body.contains("\"sources\":[{"), "no document names: {}", answer.body);
    assert!(answer.events().iter().all(|e| e["t"] != "sources"));
    let conversation = answer.events()[0]["conversation"].as_str().unwrap().to_owned();
    let read = send(&o.app, "GET", &format!("/visitor/{}/conversations/{conversation}", o.bot), None, None, Some(&visitor)).await;
    assert!(!read.body.contains("guide.md"), "{}", read.body);
}
