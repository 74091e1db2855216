//! Analytics on generated conversations, every figure checked against a count computed here
//! independently; days cut in the owner's time zone; owners see only their own bots; and the
//! unanswered-questions loop end to end (fallback → grouped → answered → answered from
//! knowledge next time).

mod common;

use chatsphere::error::AppError;
use chatsphere::features::analytics::server::{self as analytics, figures, unanswered};
use chatsphere::features::analytics::{Report, ReportQuery};
use chatsphere::features::bots::ModelChoice;
use chatsphere::features::chat::{ChatEvent, FinishReason};
use chatsphere::features::knowledge::server::store::{self as documents, NewDocument};
use chatsphere::features::knowledge::server::worker;
use chatsphere::server::db::MIGRATOR;
use chatsphere::features::knowledge::server::settings::KnowledgeSettings;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use common::{call, encode, ORIGIN};
use futures::StreamExt;
use http::{header, Request};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap, HashSet};
use tower::ServiceExt;
use uuid::Uuid;

/// UTC−5 all year: PostgreSQL's POSIX-style name has the sign the other way round.
const ZONE: &str = "Etc/GMT+5";
fn zone() -> FixedOffset {
    FixedOffset::west_opt(5 * 3600).unwrap()
}

async fn user(db: &PgPool, email: &str) -> Uuid {
    sqlx::query_scalar("INSERT INTO users (email, display_name, password_hash) VALUES ($1, 'X', 'x') RETURNING id").bind(email).fetch_one(db).await.unwrap()
}

async fn bot(db: &PgPool, owner: Uuid, name: &str) -> (Uuid, String) {
    let public_id = format!("{:0<16}", name.to_lowercase());
    let id = sqlx::query_scalar(
        "INSERT INTO bots (public_id, owner_id, name, llm_provider, llm_model, temperature, max_answer_tokens, top_k, min_relevance,
                           keyword_weight, accent_color, embedding_model, embedder)
         VALUES ($1, $2, $3, 'offline', 'extractive', 0.3, 512, 6, 0.2, 0.5, '#4f46e5', 'local/all-MiniLM-L6-v2', 'local/all-MiniLM-L6-v2') RETURNING id",
    )
    .bind(&public_id)
    .bind(owner)
    .bind(name)
    .fetch_one(db)
    .await
    .unwrap();
    (id, public_id)
}

/// One generated answer, as the test remembers it.
#[derive(Clone)]
struct Answer {
    bot: Uuid,
    conversation_at: DateTime<Utc>,
    conversation: Uuid,
    visitor: String,
    at: DateTime<Utc>,
    answered: Option<bool>,
    ttft: i32,
    total: i32,
    tokens: (i32, i32),
    model: &'static str,
    feedback: Option<i16>,
}

/// A small deterministic generator (no dependency on the order rows come back in).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

async fn generate(db: &PgPool, bots: &[Uuid], start: DateTime<Utc>, conversations: usize, seed: u64) -> Vec<Answer> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for i in 0..conversations {
        let bot = bots[rng.next(bots.len() as u64) as usize];
        let visitor = format!("visitor:{}", rng.next(7));
        // Spread over ~40 days, at all hours (so local and UTC days differ).
        let at = start + Duration::minutes(i as i64 * 997 + rng.next(600) as i64);
        let conversation: Uuid = sqlx::query_scalar("INSERT INTO conversations (bot_id, visitor_key, title, created_at, updated_at) VALUES ($1, $2, 't', $3, $3) RETURNING id")
            .bind(bot)
            .bind(&visitor)
            .bind(at)
            .fetch_one(db)
            .await
            .unwrap();
        for turn in 0..(1 + rng.next(3)) {
            let asked = at + Duration::minutes(turn as i64 * 3);
            sqlx::query("INSERT INTO messages (conversation_id, bot_id, role, content, status, created_at) VALUES ($1, $2, 'user', $3, 'complete', $4)")
                .bind(conversation)
                .bind(bot)
                .bind(format!("question {i}.{turn}"))
                .bind(asked)
                .execute(db)
                .await
                .unwrap();
            let answer = Answer {
                bot,
                conversation_at: at,
                conversation,
                visitor: visitor.clone(),
                at: asked + Duration::seconds(1),
                answered: match rng.next(5) { 0 => Some(false), 1 => None, _ => Some(true) },
                ttft: 100 + rng.next(900) as i32,
                total: 1000 + rng.next(5000) as i32,
                tokens: (200 + rng.next(300) as i32, 20 + rng.next(200) as i32),
                model: if rng.next(3) == 0 { "gemini-2.5-flash" } else { "extractive" },
                feedback: match rng.next(6) { 0 => Some(1), 1 => Some(-1), _ => None },
            };
            let provider = if answer.model == "extractive" { "offline" } else { "gemini" };
            sqlx::query(
                "INSERT INTO messages (conversation_id, bot_id, role, content, status, answered, ttft_ms, total_ms, tokens_in, tokens_out,
                                       provider, model, feedback, feedback_comment, best_score, created_at)
                 VALUES ($1, $2, 'assistant', 'an answer', 'complete', $3, $4, $5, $6, $7, $8, $9, $10, $11, 0.9, $12)",
            )
            .bind(conversation)
            .bind(bot)
            .bind(answer.answered)
            .bind(answer.ttft)
            .bind(answer.total)
            .bind(answer.tokens.0)
            .bind(answer.tokens.1)
            .bind(provider)
            .bind(answer.model)
            .bind(answer.feedback)
            .bind(answer.feedback.filter(|f| *f < 0).map(|_| format!("bad {i}")))
            .bind(answer.at)
            .execute(db)
            .await
            .unwrap();
            out.push(answer);
        }
    }
    out
}

fn local_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone()).date_naive()
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    zone().from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap()).unwrap().with_timezone(&Utc)
}

/// PostgreSQL's percentile_cont: linear interpolation between the closest ranks.
fn percentile(mut v: Vec<f64>, p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = p * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (rank - lo as f64))
}

fn prices() -> Vec<ModelChoice> {
    vec![ModelChoice { provider: "gemini".into(), model: "gemini-2.5-flash".into(), label: String::new(), input_price_per_mtok: Some(0.3), output_price_per_mtok: Some(2.5) }]
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn every_figure_matches_an_independent_count(db: PgPool) {
    let ada = user(&db, "ada@example.com").await;
    let (a1, a1_public) = bot(&db, ada, "Alpha").await;
    let (a2, _) = bot(&db, ada, "Beta").await;
    let bob = user(&db, "bob@example.com").await;
    let (b1, _) = bot(&db, bob, "Gamma").await;
    let start = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut answers = generate(&db, &[a1, a2, b1], start, 90, 7).await;
    // Later changes count too: a thumbs-down given afterwards, and a deleted conversation.
    let rated = answers.iter().find(|a| a.feedback.is_none() && a.bot != b1 && a.at > start + Duration::days(12)).unwrap().conversation;
    sqlx::query("UPDATE messages SET feedback = -1, feedback_comment = 'bad later' WHERE conversation_id = $1 AND role = 'assistant'").bind(rated).execute(&db).await.unwrap();
    answers.iter_mut().filter(|a| a.conversation == rated).for_each(|a| a.feedback = Some(-1));
    let gone = answers.iter().rev().find(|a| a.bot == a1 && a.at < start + Duration::days(25)).unwrap().conversation;
    sqlx::query("DELETE FROM conversations WHERE id = $1").bind(gone).execute(&db).await.unwrap();
    answers.retain(|a| a.conversation != gone);

    let (from, to) = (NaiveDate::from_ymd_opt(2026, 3, 11).unwrap(), NaiveDate::from_ymd_opt(2026, 3, 30).unwrap());
    for (scope_bot, bots) in [(None, vec![a1, a2]), (Some(a1_public.clone()), vec![a1])] {
        let query = ReportQuery { bot: scope_bot, from, to, time_zone: ZONE.into() };
        let scope = analytics::scope(&db, ada, &query).await.unwrap();
        let report: Report = figures::report(&db, &scope, &query, &prices()).await.unwrap();
        let mine: Vec<&Answer> = answers.iter().filter(|a| bots.contains(&a.bot)).collect();
        let (lo, hi) = (midnight(from), midnight(to + Duration::days(1)));
        let prev_lo = midnight(from - Duration::days((to - from).num_days() + 1));
        let within = |t: DateTime<Utc>, lo: DateTime<Utc>, hi: DateTime<Utc>| t >= lo && t < hi;

        // Days: every day present, each count computed from the generated rows.
        assert_eq!(report.days.len(), 20);
        assert_eq!(report.days.first().unwrap().day, from);
        for day in &report.days {
            let that_day: Vec<&&Answer> = mine.iter().filter(|a| local_day(a.at) == day.day).collect();
            let conversations: HashSet<Uuid> = mine.iter().filter(|a| local_day(a.conversation_at) == day.day).map(|a| a.conversation).collect();
            // Each answer has its question a second before it, the same local day here.
            assert_eq!(day.messages, 2 * that_day.len() as i64, "{}", day.day);
            assert_eq!(day.conversations, conversations.len() as i64, "{}", day.day);
            let visitors: HashSet<&str> = that_day.iter().map(|a| a.visitor.as_str()).collect();
            assert_eq!(day.visitors, visitors.len() as i64, "{}", day.day);
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                (None, None) => true,
                _ => false,
            };
            let ttft: Vec<f64> = that_day.iter().map(|a| a.ttft as f64).collect();
            let total: Vec<f64> = that_day.iter().map(|a| a.total as f64).collect();
            assert!(close(day.ttft_p50, percentile(ttft.clone(), 0.5)), "{}: {:?}", day.day, day.ttft_p50);
            assert!(close(day.ttft_p95, percentile(ttft, 0.95)));
            assert!(close(day.total_p50, percentile(total.clone(), 0.5)));
            assert!(close(day.total_p95, percentile(total, 0.95)));
        }

        // Totals, this period and the one before.
        for (totals, lo, hi) in [(&report.totals, lo, hi), (&report.previous, prev_lo, lo)] {
            let period: Vec<&&Answer> = mine.iter().filter(|a| within(a.at, lo, hi)).collect();
            assert_eq!(totals.questions, period.len() as i64);
            assert_eq!(totals.messages, 2 * period.len() as i64);
            assert_eq!(totals.answered, period.iter().filter(|a| a.answered == Some(true)).count() as i64);
            assert_eq!(totals.fallback, period.iter().filter(|a| a.answered == Some(false)).count() as i64);
            assert_eq!(totals.thumbs_up, period.iter().filter(|a| a.feedback == Some(1)).count() as i64);
            assert_eq!(totals.thumbs_down, period.iter().filter(|a| a.feedback == Some(-1)).count() as i64);
            let visitors: HashSet<&str> = period.iter().map(|a| a.visitor.as_str()).collect();
            assert_eq!(totals.visitors, visitors.len() as i64);
            let conversations: HashSet<Uuid> = mine.iter().filter(|a| within(a.conversation_at, lo, hi)).map(|a| a.conversation).collect();
            assert_eq!(totals.conversations, conversations.len() as i64);
        }
        assert!(report.totals.questions > 10 && report.previous.questions > 5, "the generator covers both periods");

        // Usage and cost per model.
        let period: Vec<&&Answer> = mine.iter().filter(|a| within(a.at, lo, hi)).collect();
        let mut usage: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
        for a in &period {
            let u = usage.entry(a.model).or_default();
            u.0 += 1;
            u.1 += a.tokens.0 as i64;
            u.2 += a.tokens.1 as i64;
        }
        let got: BTreeMap<&str, (i64, i64, i64)> = report.usage.iter().map(|u| (u.model.as_str(), (u.answers, u.tokens_in, u.tokens_out))).collect();
        assert_eq!(got, usage);
        let gemini = report.usage.iter().find(|u| u.model == "gemini-2.5-flash").unwrap();
        let want = gemini.tokens_in as f64 * 0.3 / 1e6 + gemini.tokens_out as f64 * 2.5 / 1e6;
        assert!((gemini.cost.unwrap() - want).abs() < 1e-9);
        assert_eq!(report.usage.iter().find(|u| u.model == "extractive").unwrap().cost, None, "no price configured");

        // Thumbs-down answers, with their comments, each linking to its conversation.
        let downs: HashMap<Uuid, usize> = period.iter().filter(|a| a.feedback == Some(-1)).fold(HashMap::new(), |mut m, a| {
            *m.entry(a.conversation).or_default() += 1;
            m
        });
        assert_eq!(report.downvotes.len(), downs.values().sum::<usize>());
        assert!(report.downvotes.iter().all(|d| downs.contains_key(&d.conversation) && d.comment.as_deref().is_some_and(|c| c.starts_with("bad "))));
        assert!(report.downvotes.iter().all(|d| d.question.starts_with("question ")));
    }
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn owners_see_only_their_own_figures(db: PgPool) {
    let app = common::app(db.clone());
    let sign_up = |email: &'static str| {
        let app = app.clone();
        async move { call(&app, "auth/sign_up", &[("email", email), ("display_name", "X"), ("password", "correct horse battery")], Some(ORIGIN), None).await.session_cookie().unwrap() }
    };
    let (ada_cookie, bob_cookie) = (sign_up("ada@example.com").await, sign_up("bob@example.com").await);
    let created = call(&app, "bots/create", &[("name", "Ada's bot")], Some(ORIGIN), Some(&ada_cookie)).await;
    let ada_bot = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();
    let ada_bot_id: Uuid = sqlx::query_scalar("SELECT id FROM bots WHERE public_id = $1").bind(&ada_bot).fetch_one(&db).await.unwrap();
    let today = Utc::now().date_naive();
    generate(&db, &[ada_bot_id], Utc::now() - Duration::days(3), 3, 1).await;

    let json = |endpoint: &'static str, body: serde_json::Value, cookie: String| {
        let app = app.clone();
        async move {
            let request = Request::post(format!("/api/{endpoint}"))
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json")
                .header(header::HOST, "127.0.0.1:3000")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, cookie)
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.unwrap();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let query = |bot: Option<&str>| serde_json::json!({"query": {"bot": bot, "from": today - Duration::days(10), "to": today, "time_zone": "UTC"}});
    let (status, body) = json("analytics/report", query(None), ada_cookie.clone()).await;
    assert!(status.is_success(), "{body}");
    let ada: Report = serde_json::from_str(&body).unwrap();
    assert!(ada.totals.questions >= 3);

    // Bob's account-wide figures do not include Ada's bot; naming it is "not found".
    let (_, body) = json("analytics/report", query(None), bob_cookie.clone()).await;
    let bob: Report = serde_json::from_str(&body).unwrap();
    assert_eq!((bob.totals.questions, bob.bots.len()), (0, 0));
    for endpoint in ["analytics/report", "analytics/unanswered"] {
        let (status, body) = json(endpoint, query(Some(&ada_bot)), bob_cookie.clone()).await;
        assert!(!status.is_success() && body.contains("NotFound"), "{endpoint}: {status} {body}");
    }
    let (status, body) = json("analytics/export", serde_json::json!({"query": query(Some(&ada_bot))["query"], "kind": "conversations"}), bob_cookie.clone()).await;
    assert!(!status.is_success() && body.contains("NotFound"), "{status} {body}");
    let answer = serde_json::json!({"bot": ada_bot, "question": "q?", "answer": "a.", "answers": []});
    let (status, _) = json("analytics/answer", answer, bob_cookie.clone()).await;
    assert!(!status.is_success());
    let qa: i64 = sqlx::query_scalar("SELECT count(*) FROM documents WHERE source = 'qa'").fetch_one(&db).await.unwrap();
    assert_eq!(qa, 0, "Bob could not add knowledge to Ada's bot");
    // Signed out: nothing.
    let (status, _) = json("analytics/report", query(None), String::new()).await;
    assert!(!status.is_success());

    // Ada's exports carry her figures.
    let (status, body) = json("analytics/export", serde_json::json!({"query": query(None)["query"], "kind": "conversations"}), ada_cookie.clone()).await;
    assert!(status.is_success(), "{body}");
    let file: serde_json::Value = serde_json::from_str(&body).unwrap();
    let csv = file["body"].as_str().unwrap();
    assert_eq!(csv.lines().count() as i64, 1 + ada.totals.messages, "a header and one row per message");
    let (_, body) = json("analytics/export", serde_json::json!({"query": query(None)["query"], "kind": "figures"}), ada_cookie).await;
    let figures: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(figures["body"].is_string(), "{body}");
    assert!(figures["body"].as_str().unwrap().contains(&format!("this period,{},{}", ada.totals.conversations, ada.totals.messages)));
}

#[sqlx::test(migrator = "MIGRATOR")]
async fn a_bad_range_or_time_zone_is_refused_plainly(db: PgPool) {
    let ada = user(&db, "ada@example.com").await;
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let q = |from: NaiveDate, to: NaiveDate, tz: &str| ReportQuery { bot: None, from, to, time_zone: tz.into() };
    let field = |r: Result<analytics::Scope, AppError>| r.err().and_then(|e| e.field().map(str::to_owned));
    assert_eq!(field(analytics::scope(&db, ada, &q(day, day - Duration::days(1), "UTC")).await).as_deref(), Some("to"));
    assert_eq!(field(analytics::scope(&db, ada, &q(day, day + Duration::days(400), "UTC")).await).as_deref(), Some("from"));
    assert_eq!(field(analytics::scope(&db, ada, &q(day, day, "Mars/Olympus_Mons")).await).as_deref(), Some("time_zone"));
    assert!(analytics::scope(&db, ada, &q(day, day, "Europe/Paris")).await.is_ok());
}

const HARBOUR: &str = "# Harbour office\nBerth fees are paid at the harbour office. The harbour office closes at 6 pm on weekdays.\n\n\
# Ferries\nFerries to the island leave every hour from the northern quay.\n";

#[sqlx::test(migrator = "MIGRATOR")]
async fn unanswered_questions_are_grouped_and_an_answer_closes_the_loop(db: PgPool) {
    let app = common::app(db.clone());
    let cookie = call(&app, "auth/sign_up", &[("email", "ada@example.com"), ("display_name", "Ada"), ("password", "correct horse battery")], Some(ORIGIN), None)
        .await
        .session_cookie()
        .unwrap();
    let created = call(&app, "bots/create", &[("name", "Harbour")], Some(ORIGIN), Some(&cookie)).await;
    let bot = serde_json::from_str::<serde_json::Value>(&created.body).unwrap()["public_id"].as_str().unwrap().to_owned();
    let owner: Uuid = sqlx::query_scalar("SELECT owner_id FROM bots WHERE public_id = $1").bind(&bot).fetch_one(&db).await.unwrap();
    let knowledge = KnowledgeSettings { chunk_tokens: 40, chunk_overlap_tokens: 0, ..common::knowledge_settings() };
    documents::add(&db, owner, &bot, NewDocument { name: "guide.md", source: "upload", mime: "text/markdown", bytes: HARBOUR.as_bytes().to_vec() }).await.unwrap();
    while worker::run_once(&db, &knowledge, &common::providers(&db), "t").await.unwrap() {}

    let ask = |question: &'static str| {
        let (app, cookie, bot) = (app.clone(), cookie.clone(), bot.clone());
        async move {
            let body = format!("bot_id={}&conversation_id=&text={}", encode(&bot), encode(question));
            let request = Request::post("/api/chat/send")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::HOST, "127.0.0.1:3000")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, cookie)
                .body(axum::body::Body::from(body))
                .unwrap();
            let mut stream = app.oneshot(request).await.unwrap().into_body().into_data_stream();
            let (mut buffer, mut last) = (String::new(), None);
            while let Some(chunk) = stream.next().await {
                buffer.push_str(&String::from_utf8(chunk.unwrap().to_vec()).unwrap());
                for event in ChatEvent::drain_lines(&mut buffer) {
                    if let ChatEvent::Done { answer } = event {
                        last = Some(answer);
                    }
                }
            }
            last.expect("the answer finished")
        }
    };
    assert_eq!(ask("Do you sell gift cards?").await.finish_reason, Some(FinishReason::NotInKnowledge));
    assert_eq!(ask("Can I buy a gift card?").await.finish_reason, Some(FinishReason::NotInKnowledge));
    assert_eq!(ask("Is there parking for bicycles near the marina?").await.finish_reason, Some(FinishReason::NotInKnowledge));
    assert_eq!(ask("When does the harbour office close?").await.finish_reason, Some(FinishReason::Stop));

    let today = Utc::now().date_naive();
    let query = ReportQuery { bot: Some(bot.clone()), from: today - Duration::days(1), to: today + Duration::days(1), time_zone: "UTC".into() };
    let scope = analytics::scope(&db, owner, &query).await.unwrap();
    let providers = common::providers(&db);
    let groups = unanswered::groups(&db, &providers, &scope).await.unwrap();
    let summary: Vec<(&str, i64)> = groups.iter().map(|g| (g.example.as_str(), g.count)).collect();
    assert_eq!(summary, [("Can I buy a gift card?", 2), ("Is there parking for bicycles near the marina?", 1)], "the two gift-card wordings are one group");
    assert_eq!(groups[0].variants, ["Do you sell gift cards?"]);

    let gift = &groups[0];
    let doc = unanswered::answer(&db, owner, &bot, &gift.example, "Yes, we sell gift cards at the harbour office for 25, 50 or 100 euros.", &gift.answers).await.unwrap();
    assert!(doc.name.starts_with("Q&A: "));
    while worker::run_once(&db, &knowledge, &providers, "t").await.unwrap() {}
    let groups = unanswered::groups(&db, &providers, &scope).await.unwrap();
    assert_eq!(groups.iter().map(|g| g.example.as_str()).collect::<Vec<_>>(), ["Is there parking for bicycles near the marina?"], "the answered group left the list");

    let again = ask("Do you sell gift cards?").await;
    assert_eq!(again.finish_reason, Some(FinishReason::Stop));
    assert!(again.content.contains("gift cards at the harbour office"), "{}", again.content);
    assert!(again.sources.iter().any(|s| s.document_name.starts_with("Q&A: ")));
    let groups = unanswered::groups(&db, &providers, &scope).await.unwrap();
    assert_eq!(groups.len(), 1, "the question is now answered from knowledge");
}
