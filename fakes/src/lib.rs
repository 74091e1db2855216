//! Faithful stand-ins for the cloud services, for tests and for running the whole product
//! offline (`cargo run --release --example fake_cloud`, see the README). Each one
//! speaks the real wire format of `../shared/reference/gemini-pinecone.md`, including its
//! errors, limits and odd corners, and can be told to misbehave in the ways the real services
//! do. They listen on 127.0.0.1 only.

pub mod gemini;
pub mod openai;
pub mod pinecone;
pub mod smtp;

use std::net::SocketAddr;

/// Serves `router` on a free port of 127.0.0.1 until the process ends.
pub async fn serve(router: axum::Router, port: u16) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

/// What the fake chat models answer when no test scripted otherwise: the first sentence of the
/// first passage in the prompt, cited, so a whole product run shows a streamed, cited answer.
pub fn answer_from_prompt(prompt: &str) -> String {
    let mut lines = prompt.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix('[') else { continue };
        let Some((n, _)) = rest.split_once(']') else { continue };
        if n.parse::<u32>().is_err() {
            continue;
        }
        let passage: String = lines.by_ref().take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ");
        let sentence = passage.split_inclusive(['.', '!', '?']).next().unwrap_or(&passage).trim().to_owned();
        return format!("According to the documents, {sentence} [{n}]");
    }
    "I have no passages to answer from.".into()
}

/// A deterministic stand-in for an embedding model: words hashed into `dimension` buckets
/// (with a crude plural fold), so texts sharing words are near each other.
pub fn hashed_embedding(text: &str, dimension: usize) -> Vec<f32> {
    use sha2::Digest;
    let mut v = vec![0.0f32; dimension.max(1)];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
        let word = word.to_lowercase();
        let word = word.strip_suffix('s').unwrap_or(&word);
        let h = sha2::Sha256::digest(word.as_bytes());
        let bucket = u64::from_le_bytes(h[..8].try_into().unwrap()) as usize % v.len();
        v[bucket] += if h[8] & 1 == 0 { 1.0 } else { -1.0 };
    }
    if v.iter().all(|x| *x == 0.0) {
        v[0] = 1.0;
    }
    v
}
