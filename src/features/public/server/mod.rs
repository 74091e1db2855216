//! The visitor side of public bots, and the owner's publishing settings. Visitors are not
//! users: they hold a token this server issued (stored hashed), bound to one bot and one
//! channel (the share page, or the widget on one allowed website), and every visitor request
//! checks that the bot is still published.

pub mod conversations;
pub mod counts;
pub mod page;
pub mod routes;
pub mod store;
pub mod tickets;
pub mod visitors;
