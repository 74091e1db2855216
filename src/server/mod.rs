//! Server plumbing shared by every feature (ssr only): configuration, state, database,
//! telemetry, the HTTP stack and its guards.

pub mod csrf;
pub mod db;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
