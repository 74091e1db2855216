//! Server plumbing shared by every feature (ssr only): configuration, state, database,
//! telemetry, the HTTP stack and its guards.

pub mod admin_cli;
pub mod assets;
pub mod api_error;
pub mod counters;
pub mod csrf;
pub mod db;
pub mod form;
pub mod limits;
pub mod mail;
pub mod refusals;
pub mod security_headers;
pub mod settings;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
