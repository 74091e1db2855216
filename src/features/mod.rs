pub mod auth;
pub mod bots;
pub mod dashboard;
