//! What the Gemini chat and embedding clients share: where the API is, the key, and how its
//! errors read. Errors are `{"error": {code, message, status, details[]}}`; a 429 names its
//! quota (`QuotaFailure`) and how long to wait (`RetryInfo.retryDelay`, never a header).

use super::retry::{parse_proto_duration, retryable_status, Backoff};
use serde::Deserialize;
use std::time::Duration;

/// One Gemini endpoint and how patient to be with it.
#[derive(Clone)]
pub struct GeminiConfig {
    /// e.g. `https://generativelanguage.googleapis.com/v1beta` (no trailing slash).
    pub base_url: String,
    pub api_key: String,
    /// Its `max_wait`: a requested wait longer than this is not sat out; the user is told when
    /// to come back.
    pub backoff: Backoff,
}

impl GeminiConfig {
    pub fn url(&self, model: &str, method: &str) -> String {
        format!("{}/models/{model}:{method}", self.base_url.trim_end_matches('/'))
    }
}

/// A failed call, classified.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub http: u16,
    /// The canonical status name, e.g. `RESOURCE_EXHAUSTED`.
    pub status: String,
    pub message: String,
    /// `RetryInfo.retryDelay`, when the service said how long to wait.
    pub retry_delay: Option<Duration>,
    /// The quota that ran out resets daily: retrying today is pointless.
    pub per_day: bool,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Body {
    message: String,
    status: String,
    details: Vec<serde_json::Value>,
}

impl ApiError {
    /// Reads an error response; bodies that are not Google's JSON keep their text.
    pub fn parse(http: u16, body: &str) -> Self {
        let Ok(Envelope { error }) = serde_json::from_str::<Envelope>(body) else {
            return Self { http, status: String::new(), message: body.trim().chars().take(300).collect(), retry_delay: None, per_day: false, reason: None };
        };
        let mut out = Self { http, status: error.status, message: error.message, retry_delay: None, per_day: false, reason: None };
        for detail in &error.details {
            let kind = detail.get("@type").and_then(|t| t.as_str()).unwrap_or_default();
            if kind.ends_with("google.rpc.RetryInfo") {
                out.retry_delay = detail.get("retryDelay").and_then(|d| d.as_str()).and_then(parse_proto_duration);
            } else if kind.ends_with("google.rpc.QuotaFailure") {
                let violations = detail.get("violations").and_then(|v| v.as_array()).cloned().unwrap_or_default();
                out.per_day |= violations.iter().any(|v| {
                    let id = v.get("quotaId").and_then(|q| q.as_str()).unwrap_or_default();
                    id.contains("PerDay") || v.get("quotaMetric").and_then(|q| q.as_str()).is_some_and(|m| m.contains("per_day"))
                });
            } else if kind.ends_with("google.rpc.ErrorInfo") {
                out.reason = detail.get("reason").and_then(|r| r.as_str()).map(str::to_owned);
            }
        }
        out
    }

    /// Whether another try can help: a transient status, and not a quota that resets only
    /// tomorrow. How long to wait is `retry_delay` (or the backoff's own).
    pub fn worth_retrying(&self) -> bool {
        retryable_status(self.http) && !self.per_day
    }

    /// What the person chatting (or the bot's owner) is told.
    pub fn user_message(&self) -> String {
        match self.http {
            400 if self.reason.as_deref() == Some("API_KEY_INVALID") || self.message.contains("API key not valid") => {
                "Gemini rejected this server's API key (GEMINI_API_KEY); the server's operator has to replace it.".into()
            }
            403 => "Gemini refused the request: the server has no valid API key for it (GEMINI_API_KEY).".into(),
            404 => format!("Gemini does not offer this model: {}", self.message),
            429 if self.per_day => "The daily Gemini quota of this server is used up; try again tomorrow or choose another model.".into(),
            429 => match self.retry_delay {
                Some(d) => format!("Gemini is rate-limiting this server; try again in {} s.", d.as_secs_f64().ceil() as u64),
                None => "Gemini is rate-limiting this server; try again in a minute.".into(),
            },
            500..=599 => format!("Gemini is failing or overloaded right now ({} {}); try again in a minute.", self.http, self.status),
            _ => format!("Gemini refused the request ({} {}): {}", self.http, self.status, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_errors_say_how_long_to_wait_and_whether_it_is_daily() {
        let body = r#"{"error":{"code":429,"message":"You exceeded your current quota","status":"RESOURCE_EXHAUSTED","details":[
            {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}"#;
        let e = ApiError::parse(429, body);
        assert_eq!(e.retry_delay, Some(Duration::from_millis(1500)));
        assert!(!e.per_day);
        assert!(e.worth_retrying());
        let daily = ApiError::parse(429, &body.replace("PerMinute", "PerDay"));
        assert!(daily.per_day && !daily.worth_retrying());
        assert!(daily.user_message().contains("daily"));
    }

    #[test]
    fn key_and_model_errors_are_never_retried_and_read_plainly() {
        let bad_key = ApiError::parse(400, r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}"#);
        assert!(!bad_key.worth_retrying());
        assert!(bad_key.user_message().contains("API key"));
        let plain = ApiError::parse(502, "<html>Bad Gateway</html>");
        assert_eq!(plain.message, "<html>Bad Gateway</html>");
        assert!(plain.worth_retrying());
    }
}
