pub mod auth;
pub mod bots;
pub mod dashboard;
pub mod knowledge;
