pub mod auth;
pub mod dashboard;
