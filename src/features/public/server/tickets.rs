//! Tickets: the panel page (share page or widget panel) hands its script a short-lived,
//! signed statement "this bot, this channel, this website, until then". Only a ticket starts a
//! visitor session, so a visitor's channel and site are what the page was served for; the
//! widget panel is only served (framed) for an allowed website, which the browser enforces
//! through `frame-ancestors`. The signing key lives in PostgreSQL, shared by every process.

use crate::error::AppError;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sqlx::PgPool;

/// A panel page stays usable this long before its script needs a fresh page to start a session.
pub const TICKET_SECS: i64 = 2 * 3600;

/// The shared signing key, made by whichever process needs it first.
pub async fn signing_key(db: &PgPool) -> Result<Vec<u8>, AppError> {
    // One read on every page view; the write only ever happens once per database.
    if let Some(key) = sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = 'visitor-tickets'").fetch_optional(db).await? {
        return Ok(key);
    }
    let mut fresh = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    sqlx::query("INSERT INTO server_keys (name, secret) VALUES ('visitor-tickets', $1) ON CONFLICT (name) DO NOTHING").bind(&fresh[..]).execute(db).await?;
    Ok(sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = 'visitor-tickets'").fetch_one(db).await?)
}

fn mac(key: &[u8], bot: &str, channel: &str, site: &str, expires: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    // Fields separated by a byte none of them can contain.
    mac.update(format!("{bot}\n{channel}\n{site}\n{expires}").as_bytes());
    mac
}

/// `expires.signature`, for `bot` on `channel` ("share" or "widget") at `site`.
pub fn issue(key: &[u8], bot: &str, channel: &str, site: &str, now: i64) -> String {
    let expires = now + TICKET_SECS;
    format!("{expires}.{}", hex::encode(mac(key, bot, channel, site, expires).finalize().into_bytes()))
}

/// Whether `ticket` was issued for exactly this bot, channel and site, and is not past its time.
pub fn verify(key: &[u8], ticket: &str, bot: &str, channel: &str, site: &str, now: i64) -> bool {
    let Some((expires, signature)) = ticket.split_once('.') else { return false };
    let (Ok(expires), Ok(signature)) = (expires.parse::<i64>(), hex::decode(signature)) else { return false };
    expires >= now && mac(key, bot, channel, site, expires).verify_slice(&signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_bound_to_its_bot_channel_site_and_time() {
        let key = b"0123456789abcdef0123456789abcdef";
        let t = issue(key, "bot1", "widget", "https://shop.example", 1000);
        assert!(verify(key, &t, "bot1", "widget", "https://shop.example", 1000));
        assert!(!verify(key, &t, "bot2", "widget", "https://shop.example", 1000));
        assert!(!verify(key, &t, "bot1", "share", "https://shop.example", 1000));
        assert!(!verify(key, &t, "bot1", "widget", "https://evil.example", 1000));
        assert!(!verify(key, &t, "bot1", "widget", "https://shop.example", 1000 + TICKET_SECS + 1), "expired");
        assert!(!verify(b"another key", &t, "bot1", "widget", "https://shop.example", 1000));
        let forged = t.replacen(&(1000 + TICKET_SECS).to_string(), &(99_999_999).to_string(), 1);
        assert!(!verify(key, &forged, "bot1", "widget", "https://shop.example", 1000), "the expiry is signed");
        assert!(!verify(key, "garbage", "bot1", "widget", "https://shop.example", 1000));
    }
}
