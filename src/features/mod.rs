pub mod analytics;
pub mod auth;
pub mod bots;
pub mod chat;
pub mod dashboard;
pub mod inbox;
pub mod knowledge;
pub mod public;
