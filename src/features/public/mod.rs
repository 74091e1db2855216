//! Public bots: a published bot talks to visitors on its share page and, through a one-tag
//! widget, on the websites its owner allows. The owner's settings (wire types and their rules)
//! live here, shared by the editor in the browser and the server; the visitor side is served by
//! `server` as plain HTML and a few kilobytes of script, so visitors never download the owner
//! app's bundle.

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use crate::error::AppError;
use serde::{Deserialize, Serialize};

pub const MAX_ALLOWED_SITES: usize = 20;
pub const LIMIT_MESSAGE_MAX: usize = 300;

/// What a published bot lets visitors do, and how its widget looks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Publishing {
    /// Origins the widget may load on, normalised: `https://shop.example`, `https://*.example.com`.
    pub allowed_sites: Vec<String>,
    pub per_visitor_minute: i32,
    pub per_visitor_day: i32,
    pub per_address_day: i32,
    pub per_bot_day: i32,
    pub per_bot_month: i32,
    /// What a visitor reads when a limit is reached.
    pub limit_message: String,
    pub show_sources: bool,
    /// "right" or "left".
    pub widget_position: String,
    pub open_on_load: bool,
    /// Whether search engines may index the share page.
    pub indexable: bool,
}

impl Default for Publishing {
    fn default() -> Self {
        Self {
            allowed_sites: Vec::new(),
            per_visitor_minute: 6,
            per_visitor_day: 60,
            per_address_day: 150,
            per_bot_day: 1000,
            per_bot_month: 20000,
            limit_message: "You have sent a lot of messages. Please wait a little before asking again.".into(),
            show_sources: true,
            widget_position: "right".into(),
            open_on_load: false,
            indexable: false,
        }
    }
}

/// The owner's view of a bot's public side: whether it is published, where, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareInfo {
    pub published: bool,
    pub share_url: String,
    /// The one-tag snippet for websites.
    pub script_snippet: String,
    /// The iframe alternative (for the first allowed site, or a placeholder).
    pub iframe_snippet: String,
    pub publishing: Publishing,
}

/// One allowed-website entry, normalised: scheme (https unless http is written), lower-case
/// host (optionally `*.` and a domain), port when not the scheme's default; no path, query,
/// credentials or other schemes.
pub fn normalise_site(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("Enter a website address.".into());
    }
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest)) => (s.to_ascii_lowercase(), rest),
        None => ("https".to_owned(), raw),
    };
    if scheme != "https" && scheme != "http" {
        return Err(format!("{raw}: only http and https websites can embed the widget."));
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(format!("{raw}: enter the site only (like https://shop.example), without a path."));
    }
    if rest.contains('@') {
        return Err(format!("{raw}: addresses with a user name or password are not websites."));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p.parse::<u32>().map_err(|_| format!("{raw}: the port is not valid."))?)),
        _ => (rest, None),
    };
    let host = host.to_ascii_lowercase();
    let (wild, bare) = match host.strip_prefix("*.") {
        Some(b) => (true, b),
        None => (false, host.as_str()),
    };
    let label_ok = |l: &str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let is_ip = bare.parse::<std::net::Ipv4Addr>().is_ok();
    if bare.is_empty() || bare.len() > 253 || !bare.split('.').all(label_ok) || (wild && (is_ip || !bare.contains('.'))) {
        return Err(format!("{raw}: this is not a website address."));
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    match port {
        Some(p) if p == 0 || p > 65535 => Err(format!("{raw}: the port is not valid.")),
        Some(p) if p != default_port => Ok(format!("{scheme}://{host}:{p}")),
        _ => Ok(format!("{scheme}://{host}")),
    }
}

/// Whether the origin a browser reports (`https://www.shop.example`) is allowed by `sites`.
pub fn site_allowed(origin: &str, sites: &[String]) -> bool {
    let Ok(origin) = normalise_site(origin) else { return false };
    if origin.contains('*') {
        return false;
    }
    sites.iter().any(|site| match site.split_once("://*.") {
        Some((scheme, domain)) => origin.strip_prefix(scheme).and_then(|o| o.strip_prefix("://")).is_some_and(|host| host.ends_with(&format!(".{domain}"))),
        None => *site == origin,
    })
}

impl Publishing {
    /// Checks every rule and returns the settings tidied; the first broken rule names its field.
    pub fn validate(mut self) -> Result<Self, AppError> {
        let mut sites = Vec::new();
        for raw in &self.allowed_sites {
            if raw.trim().is_empty() {
                continue;
            }
            let site = normalise_site(raw).map_err(|m| AppError::invalid("allowed_sites", m))?;
            if !sites.contains(&site) {
                sites.push(site);
            }
        }
        if sites.len() > MAX_ALLOWED_SITES {
            return Err(AppError::invalid("allowed_sites", format!("At most {MAX_ALLOWED_SITES} websites.")));
        }
        self.allowed_sites = sites;
        for (field, value, max) in [
            ("per_visitor_minute", self.per_visitor_minute, 1000),
            ("per_visitor_day", self.per_visitor_day, 100_000),
            ("per_address_day", self.per_address_day, 1_000_000),
            ("per_bot_day", self.per_bot_day, 10_000_000),
            ("per_bot_month", self.per_bot_month, 100_000_000),
        ] {
            if !(1..=max).contains(&value) {
                return Err(AppError::invalid(field, format!("Choose a number from 1 to {max}.")));
            }
        }
        self.limit_message = self.limit_message.trim().to_owned();
        if self.limit_message.is_empty() || self.limit_message.chars().count() > LIMIT_MESSAGE_MAX {
            return Err(AppError::invalid("limit_message", format!("Write a message of 1 to {LIMIT_MESSAGE_MAX} characters.")));
        }
        if self.widget_position != "right" && self.widget_position != "left" {
            return Err(AppError::invalid("widget_position", "Choose left or right."));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_normalised_or_refused_with_a_reason() {
        assert_eq!(normalise_site("https://shop.example/").unwrap(), "https://shop.example");
        assert_eq!(normalise_site("Shop.Example").unwrap(), "https://shop.example");
        assert_eq!(normalise_site("http://localhost:8080").unwrap(), "http://localhost:8080");
        assert_eq!(normalise_site("https://shop.example:443").unwrap(), "https://shop.example");
        assert_eq!(normalise_site("*.example.com").unwrap(), "https://*.example.com");
        assert!(normalise_site("https://shop.example/path").unwrap_err().contains("without a path"));
        assert!(normalise_site("https://user:pw@shop.example").unwrap_err().contains("password"));
        assert!(normalise_site("javascript:alert(1)").is_err());
        assert!(normalise_site("ftp://shop.example").unwrap_err().contains("http and https"));
        assert!(normalise_site("*.com").is_err());
        assert!(normalise_site("shop example").is_err());
    }

    #[test]
    fn origins_match_exactly_or_under_a_wildcard() {
        let sites = vec!["https://shop.example".to_owned(), "https://*.example.com".to_owned(), "http://localhost:3102".to_owned()];
        assert!(site_allowed("https://shop.example", &sites));
        assert!(!site_allowed("http://shop.example", &sites), "the scheme counts");
        assert!(!site_allowed("https://evil-shop.example", &sites));
        assert!(site_allowed("https://www.example.com", &sites));
        assert!(!site_allowed("https://example.com", &sites), "a wildcard covers subdomains only");
        assert!(!site_allowed("https://www.example.com.evil.net", &sites));
        assert!(site_allowed("http://localhost:3102", &sites));
        assert!(!site_allowed("http://localhost:3103", &sites));
        assert!(!site_allowed("null", &sites) && !site_allowed("", &sites));
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = Publishing { allowed_sites: vec![" shop.example ".into(), "https://shop.example/".into(), "".into()], ..Publishing::default() }.validate().unwrap();
        assert_eq!(ok.allowed_sites, vec!["https://shop.example"]);
        let err = Publishing { per_visitor_minute: 0, ..Publishing::default() }.validate().unwrap_err();
        assert_eq!(err.field(), Some("per_visitor_minute"));
        let err = Publishing { allowed_sites: vec!["https://a.example/x".into()], ..Publishing::default() }.validate().unwrap_err();
        assert_eq!(err.field(), Some("allowed_sites"));
    }
}
