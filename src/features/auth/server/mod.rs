//! Server side of accounts: plain async functions over the pool (tests call them directly)
//! and the Leptos glue that reads cookies and the caller's address.

pub mod accounts;
pub mod admin;
pub mod invitations;
pub mod password;
pub mod password_reset;
pub mod rate_limit;
pub mod request;
pub mod reset_mail;
pub mod sessions;
pub mod settings;

pub use request::{require_user, RequestUser};
