//! Soak: two server processes on one fresh database behind a client that alternates between
//! them (a load balancer's round robin), mixed traffic for `SOAK_SECS` (default 600): sign-ins,
//! uploads, questions streamed to their end, analytics reports, document lists, questions
//! through the developer API, and visitors of the published bots (share page, visitor session,
//! a question streamed to its end). Prints p50/p95/p99 per kind of request, the count of 5xx (must be
//! zero: the run fails otherwise) and each process's resident memory over the run.
//!
//!     source ./db.sh && cargo bench --features ssr --bench soak            # 10 minutes
//!     SOAK_SECS=120 SOAK_CLIENTS=8 cargo bench --features ssr --bench soak  # a shorter one

mod common;
#[path = "../tests/common/process.rs"]
mod process;

use chatsphere::features::public::Publishing;
use process::{session_cookie, Server};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const OWNERS: usize = 4;

#[derive(Clone)]
struct Owner {
    email: String,
    cookie: String,
    bot: String,
    key: String,
}

#[derive(Default)]
struct Tally {
    ms: Vec<f64>,
    server_errors: usize,
    refusals: usize,
}

type Tallies = Arc<Mutex<BTreeMap<&'static str, Tally>>>;

fn record(tallies: &Tallies, kind: &'static str, status: u16, started: Instant) {
    let mut t = tallies.lock().unwrap();
    let tally = t.entry(kind).or_default();
    tally.ms.push(started.elapsed().as_secs_f64() * 1000.0);
    if status >= 500 {
        tally.server_errors += 1;
    } else if status >= 400 {
        tally.refusals += 1;
    }
}

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn text(n: usize) -> String {
    format!(
        "# Notice {n}\nThe harbour notice number {n} says berth {} is reserved from {} in the morning until {} at night, and the fuel dock accepts cards.\n\n\
         ## Tides\nHigh water on day {n} is expected at {}:{:02}, with a range of {} metres.\n",
        n % 40,
        6 + n % 4,
        8 + n % 3,
        n % 12,
        (n * 7) % 60,
        2 + n % 3
    )
}

async fn setup(server: &Server, n: usize) -> Owner {
    let email = format!("owner{n}@example.com");
    let reply = server.call(None, "auth/sign_up", &[("email", &email), ("display_name", "Owner"), ("password", PASSWORD)]).await;
    let cookie = session_cookie(&reply).expect("signed up");
    let bot: serde_json::Value = server.call(Some(&cookie), "bots/create", &[("name", "Harbour")]).await.json().await.unwrap();
    let bot = bot["public_id"].as_str().unwrap().to_owned();
    for d in 0..3 {
        let reply = server.call(Some(&cookie), "knowledge/add_text", &[("bot_id", &bot), ("title", &format!("Notice {d}")), ("text", &text(d))]).await;
        assert!(reply.status().is_success());
    }
    let key: serde_json::Value =
        server.call(Some(&cookie), "developer/create_key", &[("name", "soak"), ("bot", ""), ("permission", "chat"), ("expires_in_days", "0")]).await.json().await.unwrap();
    Owner { email, cookie, bot, key: key["secret"].as_str().unwrap().to_owned() }
}

/// One request of the mix against `server`.
async fn one(server: &Server, owner: &Owner, i: usize, tallies: &Tallies, uploads: &AtomicUsize) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    match i % 20 {
        0 => {
            let reply = server.call(None, "auth/sign_in", &[("email", &owner.email), ("password", PASSWORD)]).await;
            record(tallies, "sign in", reply.status().as_u16(), started);
        }
        1 => {
            let n = 1000 + uploads.fetch_add(1, Ordering::Relaxed);
            let reply = server.call(Some(&owner.cookie), "knowledge/add_text", &[("bot_id", &owner.bot), ("title", &format!("Notice {n}")), ("text", &text(n))]).await;
            record(tallies, "upload", reply.status().as_u16(), started);
        }
        2 | 3 => {
            let today = chrono::Utc::now().date_naive();
            let body = serde_json::json!({"query": {"bot": null, "from": today - chrono::Duration::days(30), "to": today, "time_zone": "UTC"}});
            let reply = client
                .post(format!("{}/api/analytics/report", server.url))
                .header("Origin", process::PUBLIC_ORIGIN)
                .header("Cookie", &owner.cookie)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            let _ = reply.bytes().await;
            record(tallies, "analytics", status, started);
        }
        4 | 5 => {
            let reply = server.call(Some(&owner.cookie), "knowledge/list", &[("bot_id", &owner.bot)]).await;
            let status = reply.status().as_u16();
            let _ = reply.bytes().await;
            record(tallies, "document list", status, started);
        }
        6..=9 => {
            let reply = client
                .post(format!("{}/api/v1/bots/{}/chat", server.url, owner.bot))
                .bearer_auth(&owner.key)
                .json(&serde_json::json!({"message": format!("When is high water on day {}?", i % 7)}))
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            let _ = reply.bytes().await;
            record(tallies, "API question", status, started);
        }
        16..=19 => visit(server, owner, i, tallies, &client).await,
        _ => {
            let question = format!("Which berth is reserved in notice {}?", i % 3);
            let reply = server.call(Some(&owner.cookie), "chat/send", &[("bot_id", &owner.bot), ("conversation_id", ""), ("text", &question)]).await;
            let status = reply.status().as_u16();
            let body = reply.text().await.unwrap_or_default();
            // The whole answer streamed; an answer that failed is our fault too.
            let failed = body.lines().last().is_some_and(|l| l.contains("\"status\":\"failed\""));
            record(tallies, "question (streamed)", if failed { 500 } else { status }, started);
        }
    }
}

/// A stranger on the bot's share page: the page (with its signed ticket), a visitor session,
/// and one question read to the end.
async fn visit(server: &Server, owner: &Owner, i: usize, tallies: &Tallies, client: &reqwest::Client) {
    let started = Instant::now();
    let page = client.get(format!("{}/s/{}", server.url, owner.bot)).send().await.unwrap();
    let status = page.status().as_u16();
    let page = page.text().await.unwrap_or_default();
    record(tallies, "share page", status, started);
    let attr = |name: &str| {
        let start = page.find(&format!("{name}=\"")).map(|at| at + name.len() + 2)?;
        Some(page[start..start + page[start..].find('"')?].to_owned())
    };
    let (Some(ticket), Some(site)) = (attr("data-ticket"), attr("data-site")) else { return };
    let started = Instant::now();
    let session = client
        .post(format!("{}/visitor/{}/session", server.url, owner.bot))
        .header("Origin", process::PUBLIC_ORIGIN)
        .json(&serde_json::json!({ "ticket": ticket, "channel": "share", "site": site }))
        .send()
        .await
        .unwrap();
    let status = session.status().as_u16();
    let session: serde_json::Value = session.json().await.unwrap_or_default();
    record(tallies, "visitor session", status, started);
    let Some(token) = session["token"].as_str() else { return };
    let started = Instant::now();
    let reply = client
        .post(format!("{}/visitor/{}/messages", server.url, owner.bot))
        .header("Origin", process::PUBLIC_ORIGIN)
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": format!("What does notice {} say about the fuel dock?", i % 3) }))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let _ = reply.bytes().await;
    record(tallies, "visitor question", status, started);
}

#[tokio::main]
async fn main() {
    let secs = var("SOAK_SECS", 600);
    let clients = var("SOAK_CLIENTS", 8) as usize;
    let db = common::fresh_db("chatsphere_soak").await;
    let base = std::env::var("DATABASE_URL").unwrap();
    let url = format!("{}/chatsphere_soak", base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base));
    let env = [
        ("CHATSPHERE_API_REQUESTS_PER_MINUTE", "1000000".to_string()),
        ("CHATSPHERE_API_REQUESTS_PER_DAY", "100000000".to_string()),
        ("CHATSPHERE_CHAT_ANSWERS_PER_DAY", "100000000".to_string()),
        ("CHATSPHERE_AUTH_MAX_FAILURES_PER_IP", "100000".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ];
    let servers = Arc::new([Server::start_on(&url, "soak-a", &env).await, Server::start_on(&url, "soak-b", &env).await]);
    let mut owners = Vec::new();
    for n in 0..OWNERS {
        owners.push(setup(&servers[n % 2], n).await);
    }
    // Published, with limits no run reaches (1,000 answers a day by default would refuse most
    // questions of a long run): this measures the server, not its limits.
    let roomy = Publishing { per_visitor_minute: 1000, per_visitor_day: 100_000, per_address_day: 1_000_000, per_bot_day: 10_000_000, per_bot_month: 100_000_000, ..Publishing::default() };
    for owner in &owners {
        let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&owner.email).fetch_one(&db).await.unwrap();
        chatsphere::features::public::server::store::save(&db, process::PUBLIC_ORIGIN, user, &owner.bot, true, roomy.clone()).await.unwrap();
    }
    // Wait for the first documents, so questions have knowledge to answer from.
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM documents WHERE status <> 'ready'").fetch_one(&db).await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("soak: 2 processes, {clients} clients, {secs} s of mixed traffic");

    let tallies: Tallies = Default::default();
    let uploads = Arc::new(AtomicUsize::new(0));
    let memory: Arc<Mutex<Vec<(u64, u64)>>> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let sampler = {
        let (servers, memory) = (servers.clone(), memory.clone());
        tokio::spawn(async move {
            while Instant::now() < deadline {
                memory.lock().unwrap().push((servers[0].rss_kib().unwrap_or(0), servers[1].rss_kib().unwrap_or(0)));
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (servers, owners, tallies, uploads) = (servers.clone(), owners.clone(), tallies.clone(), uploads.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c * 7;
            while Instant::now() < deadline {
                // Each kind of request goes to both processes in turn.
                one(&servers[(i + i / 20) % 2], &owners[(i / 2) % owners.len()], i, &tallies, &uploads).await;
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    sampler.abort();

    let mut total_5xx = 0;
    println!("{:<22} {:>7} {:>6} {:>6} {:>9} {:>9} {:>9}", "request", "n", "5xx", "4xx", "p50 ms", "p95 ms", "p99 ms");
    for (kind, tally) in tallies.lock().unwrap().iter_mut() {
        tally.ms.sort_by(f64::total_cmp);
        let p = |q: f64| common::percentile(&tally.ms, q / 100.0);
        println!("{kind:<22} {:>7} {:>6} {:>6} {:>9.1} {:>9.1} {:>9.1}", tally.ms.len(), tally.server_errors, tally.refusals, p(50.0), p(95.0), p(99.0));
        total_5xx += tally.server_errors;
    }
    let memory = memory.lock().unwrap();
    for (i, name) in ["A", "B"].iter().enumerate() {
        let series: Vec<u64> = memory.iter().map(|m| if i == 0 { m.0 } else { m.1 }).collect();
        let (first, last, max) = (series.first().copied().unwrap_or(0), series.last().copied().unwrap_or(0), series.iter().copied().max().unwrap_or(0));
        println!("process {name}: resident memory {:.0} MiB at the start, {:.0} MiB at the end, {:.0} MiB at most ({} samples)", first as f64 / 1024.0, last as f64 / 1024.0, max as f64 / 1024.0, series.len());
        let per_minute: Vec<String> = series.iter().step_by(6).map(|kib| format!("{:.0}", *kib as f64 / 1024.0)).collect();
        println!("process {name}: MiB each minute: {}", per_minute.join(" "));
    }
    let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM documents WHERE status = 'ready'").fetch_one(&db).await.unwrap();
    println!("documents ready at the end: {documents}");
    if total_5xx > 0 {
        eprintln!("{total_5xx} responses were 5xx; see {}", std::env::var("CARGO_TARGET_TMPDIR").unwrap_or_default());
        std::process::exit(1);
    }
}
