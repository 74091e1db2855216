//! The server side of chat: storage (`store`), the answering pipeline (`answer`), prompt
//! assembly and history trimming (`prompt`), follow-ups made searchable (`rewrite`), what each
//! answer's retrieval did (`trace`), answers in flight and their Stop (`live`), and exports
//! (`export`).

pub mod answer;
pub mod export;
pub mod live;
pub mod prompt;
pub mod rewrite;
pub mod settings;
pub mod store;
pub mod trace;

pub use live::LiveAnswers;
