//! Server side of knowledge: storage with ownership in every statement, the job queue, the
//! worker that runs the pipeline, search, and keyword search's language.

pub mod chunk;
pub mod extract;
pub mod fetch;
pub mod intake;
pub mod jobs;
pub mod language;
pub mod queue;
pub mod quota;
pub mod reindex;
pub mod search;
pub mod settings;
pub mod store;
pub mod worker;
