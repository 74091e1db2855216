//! Conversations and messages in PostgreSQL. Every read and write that starts from an id the
//! browser sent checks, in the SQL itself, that the bot behind it belongs to the caller; a
//! stranger's conversation looks exactly like a missing one.

mod answers;
mod conversations;
mod feedback;
mod messages;

pub use answers::*;
pub use conversations::*;
pub use feedback::*;
pub use messages::*;
