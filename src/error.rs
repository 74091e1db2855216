//! `AppError`: the one error type that crosses the server-function boundary.
//!
//! Validation, permission and rate-limit errors carry a message meant for the user.
//! Infrastructure failures are logged on the server with their context and reach the
//! browser only as `Internal`, so no database or file-system text ever leaves the server.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input that breaks a rule; `field` names the form field when there is one.
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    #[error("Please sign in to continue.")]
    Unauthenticated,
    /// Deliberately vague: a wrong password and an unknown email look the same.
    #[error("Wrong email or password.")]
    WrongCredentials,
    /// Also what another user's resource looks like, so ids reveal nothing.
    #[error("{0} not found.")]
    NotFound(String),
    /// Allowed to nobody in the caller's position (sign-up closed, a limit of the account).
    #[error("{0}")]
    Forbidden(String),
    #[error("This request came from another site and was refused.")]
    CrossSiteRequest,
    /// More than a limit allows (a request or file too large); the message names the limit.
    #[error("{0}")]
    TooLarge(String),
    /// A quota over time (answers per day) is used up; the message names it.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("Too many attempts; try again in {retry_after_secs} s.")]
    RateLimited { retry_after_secs: u64 },
    #[error("Could not reach the server; check your connection and try again.")]
    Unreachable,
    /// The database cannot be reached (restarting, failing over): nothing was done, and the
    /// same request will work once it is back.
    #[error("ChatSphere cannot reach its database right now; try again in a moment.")]
    Unavailable,
    #[error("Something went wrong; try again.")]
    Internal,
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid { field: Some(field.to_owned()), message: message.into() }
    }

    /// The HTTP status this error is answered with: a refusal is a 4xx, only our faults 5xx.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid { .. } => 400,
            AppError::Unauthenticated | AppError::WrongCredentials => 401,
            AppError::CrossSiteRequest | AppError::Forbidden(_) => 403,
            AppError::NotFound(_) => 404,
            AppError::TooLarge(_) => 413,
            AppError::RateLimited { .. } | AppError::QuotaExceeded(_) => 429,
            AppError::Unreachable | AppError::Unavailable => 503,
            AppError::Internal => 500,
        }
    }

    /// The form field this error belongs to, for showing it next to that field.
    pub fn field(&self) -> Option<&str> {
        match self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => AppError::Unreachable,
            // Arguments that are missing or malformed are the caller's mistake: a 400, not a fault.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::Invalid { field: None, message: "The request was not understood; reload the page and try again.".into() }
            }
            other => {
                #[cfg(feature = "ssr")]
                tracing::warn!(error = %other, "server function plumbing failed");
                let _ = other;
                AppError::Internal
            }
        }
    }
}

impl From<ServerFnErrorErr> for AppError {
    fn from(value: ServerFnErrorErr) -> Self {
        AppError::from_server_fn_error(value)
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    #[track_caller]
    fn from(error: sqlx::Error) -> Self {
        let at = std::panic::Location::caller();
        if database_unreachable(&error) {
            tracing::error!(%error, %at, "database unreachable");
            return AppError::Unavailable;
        }
        tracing::error!(%error, %at, "database error");
        AppError::Internal
    }
}

/// Errors that say the database is not there (connection refused or lost, the pool waiting in
/// vain, the server shutting down or starting up), as opposed to a statement that failed.
#[cfg(feature = "ssr")]
pub fn database_unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08 (connection exception) and 57P01–57P03 (shutdown, crash, starting up).
        sqlx::Error::Database(e) => e.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_reveal_nothing_but_a_generic_message() {
        assert_eq!(AppError::Internal.to_string(), "Something went wrong; try again.");
    }

    #[test]
    fn errors_round_trip_through_the_wire_format() {
        let err = AppError::RateLimited { retry_after_secs: 42 };
        let json = serde_json::to_string(&err).unwrap();
        assert_eq!(serde_json::from_str::<AppError>(&json).unwrap(), err);
        assert_eq!(err.to_string(), "Too many attempts; try again in 42 s.");
    }
}
