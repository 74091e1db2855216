//! Runs the fake Gemini, Pinecone and OpenAI-compatible servers and an SMTP sink on 127.0.0.1, so the whole
//! product can be run (and journeys tested) against the cloud providers without a network.
//! Ports and keys come from the environment (defaults below); see the README.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let port = |name: &str, default: u16| var(name, "").parse().unwrap_or(default);
    let gemini = chatsphere_fakes::gemini::FakeGemini::start(&var("GEMINI_API_KEY", "fake-gemini-key"), port("FAKE_GEMINI_PORT", 3210)).await?;
    gemini.state.default_delay_ms.store(port("FAKE_GEMINI_DELAY_MS", 15) as u64, std::sync::atomic::Ordering::Relaxed);
    let pinecone = chatsphere_fakes::pinecone::FakePinecone::start(&var("PINECONE_API_KEY", "fake-pinecone-key"), port("FAKE_PINECONE_PORT", 3211)).await?;
    let key = var("OPENAI_API_KEY", "");
    let openai = chatsphere_fakes::openai::FakeOpenAi::start((!key.is_empty()).then_some(key.as_str()), port("FAKE_OPENAI_PORT", 3212)).await?;
    let smtp = chatsphere_fakes::smtp::FakeSmtp::start(port("FAKE_SMTP_PORT", 3213)).await?;
    let inbox = chatsphere_fakes::serve(chatsphere_fakes::smtp::inbox_router(smtp.state.clone()), port("FAKE_INBOX_PORT", 3214)).await?;
    println!("fake Gemini:   {}", gemini.base_url());
    println!("fake Pinecone: {}", pinecone.control_url());
    println!("fake OpenAI:   {}", openai.base_url());
    println!("SMTP sink:     {} (received mail: http://{inbox}/inbox)", smtp.url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
