//! Server side of knowledge: storage with ownership in every statement, the job queue, the
//! worker that runs the pipeline, and search.

pub mod chunk;
pub mod extract;
pub mod fetch;
pub mod intake;
pub mod jobs;
pub mod queue;
pub mod quota;
pub mod reindex;
pub mod search;
pub mod settings;
pub mod store;
pub mod worker;
