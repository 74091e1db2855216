//! The cloud clients against the fake services, one behaviour each: Gemini's streaming
//! (deltas, thoughts, CRLF, cumulative usage, every kind of ending), its retry rules (RetryInfo,
//! daily quotas, 503s, never after text reached the user), cancellation closing the upstream
//! request, and its embeddings (batches of 100, task types, dimension, normalisation); the
//! OpenAI-compatible client's stream, usage, endings and retries; and the fakes' own fidelity
//! where the clients never go (no `alt=sse`, missing keys).

use chatsphere_fakes::gemini::{FakeGemini, Reply};
use chatsphere_fakes::openai::{self, FakeOpenAi};
use chatsphere::features::chat::FinishReason;
use chatsphere::providers::embed::gemini::GeminiEmbedder;
use chatsphere::providers::embed::{EmbedError, Embedder, Purpose};
use chatsphere::providers::gemini::GeminiConfig;
use chatsphere::providers::llm::gemini::GeminiLlm;
use chatsphere::providers::llm::openai::{OpenAiConfig, OpenAiLlm};
use chatsphere::providers::llm::{Llm, LlmError, LlmEvent, LlmRequest, Passage, Speaker, Turn};
use chatsphere::providers::retry::Backoff;
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const KEY: &str = "test-key";

fn gemini_config(fake: &FakeGemini, key: &str) -> GeminiConfig {
    GeminiConfig { base_url: fake.base_url(), api_key: key.into(), backoff: Backoff::new(5, 10, 40).with_max_wait(Duration::from_secs(5)) }
}

async fn gemini() -> (FakeGemini, GeminiLlm) {
    let fake = FakeGemini::start(KEY, 0).await.unwrap();
    let llm = GeminiLlm::new(reqwest::Client::new(), gemini_config(&fake, KEY));
    (fake, llm)
}

fn request(model: &str) -> LlmRequest {
    LlmRequest {
        model: model.into(),
        system: "You are the harbour bot.".into(),
        history: vec![Turn { speaker: Speaker::User, text: "Hi".into(), searched: None }, Turn { speaker: Speaker::Assistant, text: "Hello!".into(), searched: None }],
        question: "When does the office close?".into(),
        passages: vec![Passage { n: 1, source: "guide.md".into(), text: "The harbour office closes at 6 pm.".into() }],
        temperature: 0.4,
        max_tokens: 300,
    }
}

/// Text, the other events, and the error if the stream failed.
async fn collect(llm: &dyn Llm, model: &str) -> (String, Vec<LlmEvent>, Option<LlmError>) {
    let mut stream = llm.stream(request(model));
    let (mut text, mut events) = (String::new(), Vec::new());
    while let Some(item) = stream.next().await {
        match item {
            Ok(LlmEvent::Text(t)) => text.push_str(&t),
            Ok(other) => events.push(other),
            Err(e) => return (text, events, Some(e)),
        }
    }
    (text, events, None)
}

fn finish(events: &[LlmEvent]) -> Option<FinishReason> {
    events.iter().find_map(|e| match e {
        LlmEvent::Finish(r) => Some(*r),
        _ => None,
    })
}

#[tokio::test]
async fn gemini_streams_deltas_skips_thoughts_and_keeps_the_last_usage_over_crlf() {
    let (fake, llm) = gemini().await;
    fake.script([Reply::Stream { chunks: vec!["The office ".into(), "closes at 6 pm [1].".into()], finish: Some("STOP".into()), crlf: true, thought: true, delay_ms: 0 }]);
    let (text, events, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!(error, None);
    assert_eq!(text, "The office closes at 6 pm [1].", "thought parts are not part of the answer");
    assert_eq!(finish(&events), Some(FinishReason::Stop));
    let usage: Vec<_> = events.iter().filter(|e| matches!(e, LlmEvent::Usage { .. })).collect();
    assert_eq!(usage.len(), 1, "the last (cumulative) usage only: {events:?}");
    assert!(matches!(usage[0], LlmEvent::Usage { input, output } if *input > 10 && *output >= 2));

    let sent = &fake.requests()[0];
    assert_eq!(sent.method, "streamGenerateContent");
    assert_eq!(sent.query.get("alt").map(String::as_str), Some("sse"));
    assert_eq!(sent.body["systemInstruction"]["parts"][0]["text"], "You are the harbour bot.");
    let roles: Vec<&str> = sent.body["contents"].as_array().unwrap().iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "model", "user"]);
    let last = sent.body["contents"][2]["parts"][0]["text"].as_str().unwrap();
    assert!(last.contains("[1] (guide.md)") && last.ends_with("Question: When does the office close?"), "{last}");
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 300);
    assert!((sent.body["generationConfig"]["temperature"].as_f64().unwrap() - 0.4).abs() < 1e-6);
}

#[tokio::test]
async fn gemini_endings_map_to_finish_reasons_and_unknown_ones_are_accepted() {
    let (fake, llm) = gemini().await;
    fake.script([
        Reply::ending(&["Partial "], "SAFETY"),
        Reply::ending(&[], "RECITATION"),
        Reply::Blocked("PROHIBITED_CONTENT".into()),
        Reply::ending(&[], "MAX_TOKENS"),
        Reply::ending(&["Done."], "SOME_FUTURE_REASON"),
        Reply::ending(&["x"], "SPII"),
    ]);
    let cases = [
        ("Partial ", FinishReason::Safety),
        ("", FinishReason::Recitation),
        ("", FinishReason::Blocked),
        ("", FinishReason::MaxTokens),
        ("Done.", FinishReason::Stop),
        ("x", FinishReason::Safety),
    ];
    for (want_text, want) in cases {
        let (text, events, error) = collect(&llm, "gemini-2.5-flash").await;
        assert_eq!(error, None);
        assert_eq!((text.as_str(), finish(&events)), (want_text, Some(want)));
    }
    assert_eq!(fake.requests().len(), 6, "none of these endings is retried");
}

#[tokio::test]
async fn gemini_retries_per_retry_info_and_overload_but_not_daily_quotas() {
    let (fake, llm) = gemini().await;
    fake.script([Reply::quota("0.3s", false), Reply::text(&["ok"])]);
    let started = Instant::now();
    let (text, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!((text.as_str(), error), ("ok", None));
    assert!(started.elapsed() >= Duration::from_millis(300), "waited as RetryInfo said: {:?}", started.elapsed());
    assert_eq!(fake.requests().len(), 2);

    fake.script([Reply::quota("47s", true)]);
    let (_, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert!(error.unwrap().to_string().contains("daily"));
    assert_eq!(fake.requests().len(), 3, "a per-day quota is not retried");

    fake.script([Reply::overloaded(), Reply::overloaded(), Reply::text(&["back"])]);
    let (text, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!((text.as_str(), error), ("back", None));
    assert_eq!(fake.requests().len(), 6);

    fake.script(std::iter::repeat_n(Reply::overloaded(), 5));
    let (_, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert!(error.unwrap().to_string().contains("overloaded"));
    assert_eq!(fake.requests().len(), 11, "five tries in all");

    // Errors inside a 200 stream follow the same rules, and the tries still run out.
    fake.script([Reply::StreamError(503), Reply::text(&["inside"])]);
    let (text, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!((text.as_str(), error), ("inside", None));
    fake.script(std::iter::repeat_n(Reply::StreamError(503), 5));
    let (_, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert!(error.unwrap().to_string().contains("overloaded"));
    assert_eq!(fake.requests().len(), 18, "2 + 5 more tries, then the error");

    // A wait longer than we sit out fails at once, saying when to come back.
    fake.script([Reply::quota("120s", false)]);
    let (_, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert!(error.unwrap().to_string().contains("120 s"));
    assert_eq!(fake.requests().len(), 19);
}

#[tokio::test]
async fn gemini_key_and_model_errors_read_plainly_and_are_not_retried() {
    let fake = FakeGemini::start(KEY, 0).await.unwrap();
    let wrong = GeminiLlm::new(reqwest::Client::new(), gemini_config(&fake, "not-the-key"));
    let (_, _, error) = collect(&wrong, "gemini-2.5-flash").await;
    assert!(error.unwrap().to_string().contains("API key"));
    let right = GeminiLlm::new(reqwest::Client::new(), gemini_config(&fake, KEY));
    let (_, _, error) = collect(&right, "gemini-9-ultra").await;
    assert!(error.unwrap().to_string().contains("does not offer this model"));
    assert_eq!(fake.requests().len(), 1, "the wrong key never reaches a model; the unknown model is asked once");

    // Google's shapes for the cases the client never produces.
    let http = reqwest::Client::new();
    let url = format!("{}/models/gemini-2.5-flash:streamGenerateContent?alt=sse", fake.base_url());
    let missing = http.post(&url).json(&serde_json::json!({"contents": []})).send().await.unwrap();
    assert_eq!(missing.status(), 403);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["error"]["status"], "PERMISSION_DENIED");
    let array = http
        .post(url.replace("?alt=sse", ""))
        .header("x-goog-api-key", KEY)
        .json(&serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(array.starts_with("[{") && array.ends_with("}]"), "without alt=sse the answer is one JSON array: {array}");
}

#[tokio::test]
async fn a_dropped_gemini_stream_is_retried_only_before_text_and_is_otherwise_interrupted() {
    let (fake, llm) = gemini().await;
    fake.script([Reply::dropped(&["Half an "])]);
    let (text, events, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!((text.as_str(), finish(&events), error), ("Half an ", Some(FinishReason::Interrupted), None));
    assert_eq!(fake.requests().len(), 1, "never a retry once text has reached the user");

    fake.script([Reply::dropped(&[]), Reply::text(&["Whole."])]);
    let (text, events, _) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!((text.as_str(), finish(&events)), ("Whole.", Some(FinishReason::Stop)));
    assert_eq!(fake.requests().len(), 3, "nothing was shown, so the cut stream was tried again");
}

#[tokio::test]
async fn dropping_a_gemini_stream_closes_the_upstream_request() {
    let (fake, llm) = gemini().await;
    let words: Vec<String> = (0..40).map(|i| format!("w{i} ")).collect();
    fake.script([Reply::Stream { chunks: words, finish: Some("STOP".into()), crlf: false, thought: false, delay_ms: 40 }]);
    let mut stream = llm.stream(request("gemini-2.5-flash"));
    assert!(matches!(stream.next().await, Some(Ok(LlmEvent::Text(_)))));
    assert_eq!(fake.state.open_streams.load(Ordering::SeqCst), 1);
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(3);
    while fake.state.open_streams.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.state.open_streams.load(Ordering::SeqCst), 0, "the upstream response was closed");
    let sent = fake.state.chunks_sent.load(Ordering::SeqCst);
    assert!(sent < 10, "the fake stopped writing after the client left ({sent} of 41 chunks)");
}

#[tokio::test]
async fn gemini_embeddings_batch_by_100_with_task_types_and_normalise() {
    let fake = FakeGemini::start(KEY, 0).await.unwrap();
    let embedder = GeminiEmbedder::new(reqwest::Client::new(), gemini_config(&fake, KEY), "gemini-embedding-001", 768);
    assert_eq!(embedder.id(), "gemini/gemini-embedding-001@768");
    let texts: Vec<String> = (0..250).map(|i| format!("passage number {i} about berths")).collect();
    let vectors = embedder.embed(texts, Purpose::Document).await.unwrap();
    assert_eq!(vectors.len(), 250);
    for v in &vectors {
        assert_eq!(v.len(), 768);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "L2-normalised, though the service's 768-d output is not: {norm}");
    }
    let sent = fake.requests();
    let sizes: Vec<usize> = sent.iter().map(|r| r.body["requests"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let first = &sent[0].body["requests"][0];
    assert_eq!(first["taskType"], "RETRIEVAL_DOCUMENT");
    assert_eq!(first["model"], "models/gemini-embedding-001");
    assert_eq!(first["outputDimensionality"], 768);
    embedder.embed(vec!["when does it close?".into()], Purpose::Query).await.unwrap();
    assert_eq!(fake.requests()[3].body["requests"][0]["taskType"], "RETRIEVAL_QUERY");

    // The service's own answers: raw vectors are not unit length, 101 requests are refused.
    let http = reqwest::Client::new();
    let url = format!("{}/models/gemini-embedding-001:batchEmbedContents", fake.base_url());
    let one = serde_json::json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "berth fees"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 768});
    let raw: serde_json::Value = http.post(&url).header("x-goog-api-key", KEY).json(&serde_json::json!({"requests": [one.clone()]})).send().await.unwrap().json().await.unwrap();
    let values: Vec<f64> = raw["embeddings"][0]["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(values.len(), 768);
    assert!((values.iter().map(|x| x * x).sum::<f64>().sqrt() - 1.0).abs() > 0.01);
    let too_many = http.post(&url).header("x-goog-api-key", KEY).json(&serde_json::json!({"requests": vec![one; 101]})).send().await.unwrap();
    assert_eq!(too_many.status(), 400);
    assert!(too_many.text().await.unwrap().contains("at most 100 requests"));
}

#[tokio::test]
async fn gemini_embedding_errors_are_permanent_or_retried_by_kind() {
    let fake = FakeGemini::start(KEY, 0).await.unwrap();
    let embedder = GeminiEmbedder::new(reqwest::Client::new(), gemini_config(&fake, KEY), "gemini-embedding-001", 768);
    fake.script_embeddings([Reply::overloaded(), Reply::quota("0.05s", false)]);
    assert_eq!(embedder.embed(vec!["a text".into()], Purpose::Document).await.unwrap().len(), 1);
    assert_eq!(fake.requests().len(), 3);
    let unknown = GeminiEmbedder::new(reqwest::Client::new(), gemini_config(&fake, KEY), "text-embedding-404", 768);
    assert!(matches!(unknown.embed(vec!["a".into()], Purpose::Query).await, Err(EmbedError::Permanent(m)) if m.contains("does not offer")));
    fake.script_embeddings(std::iter::repeat_n(Reply::overloaded(), 5));
    assert!(matches!(embedder.embed(vec!["a".into()], Purpose::Query).await, Err(EmbedError::Transient(_))));
}

async fn openai(key: Option<&str>) -> (FakeOpenAi, OpenAiLlm) {
    let fake = FakeOpenAi::start(key, 0).await.unwrap();
    let config = OpenAiConfig { name: "ollama".into(), base_url: fake.base_url(), api_key: key.unwrap_or_default().into(), backoff: Backoff::new(4, 10, 40).with_max_wait(Duration::from_secs(5)) };
    (fake.clone(), OpenAiLlm::new(reqwest::Client::new(), config))
}

#[tokio::test]
async fn openai_compatible_streams_with_usage_and_maps_its_endings() {
    let (fake, llm) = openai(Some("sk-test")).await;
    assert_eq!(llm.provider(), "ollama");
    let (text, events, error) = collect(&llm, "llama3.2").await;
    assert_eq!(error, None);
    assert_eq!(text, "According to the documents, The harbour office closes at 6 pm. [1]");
    assert!(events.iter().any(|e| matches!(e, LlmEvent::Usage { input, output } if *input > 10 && *output > 5)), "{events:?}");
    assert_eq!(finish(&events), Some(FinishReason::Stop));
    let sent = &fake.requests()[0];
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["messages"][0]["role"], "system");
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);

    fake.script([
        openai::Reply::Stream { chunks: vec!["Cut ".into()], finish: Some("length".into()) },
        openai::Reply::Stream { chunks: vec![], finish: Some("content_filter".into()) },
        openai::Reply::Stream { chunks: vec!["Half".into()], finish: None },
    ]);
    let (text, events, _) = collect(&llm, "llama3.2").await;
    assert_eq!((text.as_str(), finish(&events)), ("Cut ", Some(FinishReason::MaxTokens)));
    let (_, events, _) = collect(&llm, "llama3.2").await;
    assert_eq!(finish(&events), Some(FinishReason::Safety));
    let (text, events, _) = collect(&llm, "llama3.2").await;
    assert_eq!((text.as_str(), finish(&events)), ("Half", Some(FinishReason::Interrupted)));
}

#[tokio::test]
async fn openai_compatible_retries_honour_retry_after_and_key_errors_are_plain() {
    let (fake, llm) = openai(Some("sk-test")).await;
    fake.script([
        openai::Reply::Error { status: 429, message: "Rate limit reached".into(), retry_after: Some("0.2".into()) },
        openai::Reply::Error { status: 503, message: "busy".into(), retry_after: None },
    ]);
    let started = Instant::now();
    let (text, _, error) = collect(&llm, "llama3.2").await;
    assert!(error.is_none() && !text.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(fake.requests().len(), 3);

    let (_, _, error) = collect(&llm, "no-such-model").await;
    assert!(error.unwrap().to_string().contains("does not offer this model"));
    let (_, wrong) = {
        let config = OpenAiConfig { name: "openai".into(), base_url: fake.base_url(), api_key: "sk-wrong".into(), backoff: Backoff::new(4, 10, 40).with_max_wait(Duration::from_secs(5)) };
        (0, OpenAiLlm::new(reqwest::Client::new(), config))
    };
    let (_, _, error) = collect(&wrong, "llama3.2").await;
    assert!(error.unwrap().to_string().contains("API key"));
    assert_eq!(fake.requests().len(), 4, "neither an unknown model nor a bad key is retried (the bad key never got in)");
}

/// A server that accepts every connection and never sends a byte.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}/v1beta")
}

#[tokio::test]
async fn a_provider_that_accepts_and_never_answers_runs_into_the_deadline() {
    let config = GeminiConfig {
        base_url: black_hole().await,
        api_key: KEY.into(),
        backoff: Backoff::new(2, 10, 20).with_deadline(Duration::from_millis(300)).with_max_wait(Duration::from_secs(5)),
    };
    let llm = GeminiLlm::new(reqwest::Client::new(), config.clone());
    let (text, _, error) = collect(&llm, "gemini-2.5-flash").await;
    assert_eq!(text, "");
    let error = error.expect("the answer ends with a message").to_string();
    assert!(error.contains("did not start answering within"), "{error}");

    // Embeddings: each try ends at its deadline, and the failure is one to retry later.
    let embedder = GeminiEmbedder::new(reqwest::Client::new(), config, "gemini-embedding-001", 768);
    match embedder.embed(vec!["anything".into()], Purpose::Document).await {
        Err(EmbedError::Transient(why)) => assert!(why.contains("no complete answer within"), "{why}"),
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

#[test]
fn the_fakes_default_answer_quotes_and_cites_the_first_passage() {
    let prompt = "Passages:\n\n[1] (Guide.pdf)\nThe lighthouse opens at nine. It closes at five.\n\n[2] (x)\nOther.\n\nQuestion: when?";
    assert_eq!(chatsphere_fakes::answer_from_prompt(prompt), "According to the documents, The lighthouse opens at nine. [1]");
}
