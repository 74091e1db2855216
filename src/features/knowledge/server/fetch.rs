//! Fetching a web page for a bot's knowledge. The server fetches on an owner's behalf, so it
//! must not become a way into its own network: every address a name resolves to is checked
//! (private, loopback, link-local, unique-local, multicast and unspecified addresses are
//! refused unless configuration allows them), the connection is pinned to the checked
//! address (no DNS rebinding between check and connect), redirects are followed by hand and
//! checked hop by hop, the whole fetch has a deadline and the body a size cap read as it comes.

use super::extract::Unreadable;
use crate::features::knowledge::server::settings::KnowledgeSettings;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const MAX_REDIRECTS: usize = 5;

pub struct Fetched {
    pub bytes: Vec<u8>,
    /// A file name that tells extraction the format when the bytes alone do not (HTML vs text).
    pub name_hint: &'static str,
    pub final_url: String,
}

fn refuse(message: impl Into<String>) -> Unreadable {
    Unreadable(message.into())
}

/// Checks the form of a URL an owner typed; the network checks happen when it is fetched.
pub fn parse(raw: &str) -> Result<reqwest::Url, Unreadable> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| refuse("That is not a valid web address; it should start with https://."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse("Only http:// and https:// addresses can be fetched."));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(refuse("The address has no host name."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("Addresses with a user name or password in them are not fetched."));
    }
    Ok(url)
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let first = s[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first & 0xffc0) == 0xfec0 // site local (deprecated, still routed by some)
                || s[..6] == [0; 6] // IPv4-compatible ::a.b.c.d
                || (first == 0x64 && s[1] == 0xff9b) // NAT64: reaches any IPv4 address, private ones too
                || first == 0x2002 // 6to4: tunnels to an embedded IPv4 address
                || (first == 0x2001 && s[1] == 0) // Teredo
                || (first == 0x100 && s[1..4] == [0; 3]) // discard-only
                || first == 0x2001 && s[1] == 0xdb8) // documentation
        }
    }
}

/// Resolves the URL's host and returns an address that may be contacted.
async fn checked_address(url: &reqwest::Url, allow_private: bool) -> Result<SocketAddr, Unreadable> {
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| refuse(format!("The host {host} could not be found.")))?
        .collect();
    let first = *addrs.first().ok_or_else(|| refuse(format!("The host {host} could not be found.")))?;
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(refuse(format!("{host} points into a private network, which is not fetched.")));
    }
    Ok(first)
}

pub async fn fetch(raw_url: &str, settings: &KnowledgeSettings) -> Result<Fetched, Unreadable> {
    let deadline = Duration::from_secs(settings.url_timeout_secs.max(1));
    match tokio::time::timeout(deadline, fetch_inner(raw_url, settings)).await {
        Ok(result) => result,
        Err(_) => Err(refuse(format!("The page did not answer within {} seconds.", deadline.as_secs()))),
    }
}

async fn fetch_inner(raw_url: &str, settings: &KnowledgeSettings) -> Result<Fetched, Unreadable> {
    let mut url = parse(raw_url)?;
    for _ in 0..=MAX_REDIRECTS {
        let addr = checked_address(&url, settings.allow_private_urls).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        // No proxy from the environment: a proxy would connect wherever it likes, past the
        // address check and the pinning above.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .user_agent(concat!("ChatSphere/", env!("CARGO_PKG_VERSION"), " (knowledge fetcher)"))
            .build()
            .map_err(|_| refuse("The page could not be fetched."))?;
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/html,application/xhtml+xml,text/plain,application/pdf;q=0.9,*/*;q=0.5")
            .send()
            .await
            .map_err(|e| refuse(format!("The page could not be fetched: {}.", describe(&e))))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok());
            let next = location.and_then(|l| url.join(l).ok()).ok_or_else(|| refuse("The page redirected to an invalid address."))?;
            url = parse(next.as_str())?;
            continue;
        }
        if !status.is_success() {
            return Err(refuse(format!("The page answered with HTTP {} ({}).", status.as_u16(), status.canonical_reason().unwrap_or("error"))));
        }
        if response.content_length().is_some_and(|n| n as usize > settings.url_max_bytes) {
            return Err(too_large(settings.url_max_bytes));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let mut bytes = Vec::new();
        while let Some(piece) = response.chunk().await.map_err(|e| refuse(format!("The page could not be read to the end: {}.", describe(&e))))? {
            if bytes.len() + piece.len() > settings.url_max_bytes {
                return Err(too_large(settings.url_max_bytes));
            }
            bytes.extend_from_slice(&piece);
        }
        let name_hint = if content_type.contains("html") {
            "page.html"
        } else if content_type.contains("markdown") {
            "page.md"
        } else if content_type.contains("csv") {
            "page.csv"
        } else {
            "page.txt"
        };
        return Ok(Fetched { bytes, name_hint, final_url: url.to_string() });
    }
    Err(refuse(format!("The page redirected more than {MAX_REDIRECTS} times.")))
}

fn too_large(cap: usize) -> Unreadable {
    refuse(format!("The page is larger than {} MB, the most that is fetched.", cap / (1024 * 1024)))
}

fn describe(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "it took too long"
    } else if e.is_connect() {
        "the server could not be reached"
    } else {
        "the connection failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1", "64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a00:1::1", "fec0::1", "::127.0.0.1", "2001:0:4136:e378::1", "100::1"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_plain_web_addresses_are_accepted() {
        assert!(parse("https://example.com/a?b").is_ok());
        assert!(parse("ftp://example.com").unwrap_err().0.contains("Only http"));
        assert!(parse("file:///etc/passwd").unwrap_err().0.contains("Only http"));
        assert!(parse("https://user:pw@example.com").unwrap_err().0.contains("user name"));
        assert!(parse("not a url").unwrap_err().0.contains("not a valid"));
    }
}
