//! What an operator can tune about accounts: sessions, passwords, throttles, who may register.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub session_ttl_hours: i64,
    pub password_min_length: usize,
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    pub failure_window_secs: i64,
    /// Who may create an account: `open` (anyone), `invite` (with an invitation link from the
    /// operator or an existing user) or `closed` (only the operator, with `chatsphere admin`).
    pub registration: String,
    /// Sign-ups accepted from one client address per window.
    pub max_signups_per_ip: i64,
    pub signup_window_secs: i64,
    /// Invitation links stay valid this long.
    pub invitation_ttl_hours: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 14,
            password_min_length: 10,
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            failure_window_secs: 15 * 60,
            registration: "open".into(),
            max_signups_per_ip: 10,
            signup_window_secs: 3600,
            invitation_ttl_hours: 24 * 7,
        }
    }
}
