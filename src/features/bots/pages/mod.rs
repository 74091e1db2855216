//! Bot pages: the list of bots as cards, and the editor with its live preview.

mod avatar;
mod editor;
mod list;
mod preview;

pub use editor::BotEditorPage;
pub use list::{BotList, BotsPage};
