//! A conversation as a file: Markdown to read, JSON to process.

use crate::features::chat::{ConversationView, ExportFile, MessageView, Role};
use serde::Serialize;

#[derive(Serialize)]
struct JsonExport<'a> {
    bot: &'a str,
    exported_at: chrono::DateTime<chrono::Utc>,
    conversation: &'a ConversationView,
}

/// A file name from the title: letters, digits and dashes.
fn file_stem(title: &str) -> String {
    let stem: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join("-");
    if stem.is_empty() { "conversation".into() } else { stem }
}

pub fn json(bot: &str, view: &ConversationView) -> ExportFile {
    let body = serde_json::to_string_pretty(&JsonExport { bot, exported_at: chrono::Utc::now(), conversation: view }).unwrap_or_default();
    ExportFile { filename: format!("{}.json", file_stem(&view.conversation.title)), mime: "application/json".into(), body }
}

pub fn markdown(bot: &str, view: &ConversationView) -> ExportFile {
    let mut out = format!("# {}\n\nA conversation with {bot}, exported {}.\n", view.conversation.title, chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    for m in &view.messages {
        out.push_str(&message(bot, m));
    }
    ExportFile { filename: format!("{}.md", file_stem(&view.conversation.title)), mime: "text/markdown".into(), body: out }
}

fn message(bot: &str, m: &MessageView) -> String {
    let who = match m.role {
        Role::User => "You",
        Role::Assistant => bot,
    };
    let mut out = format!("\n## {who} · {}\n\n{}\n", m.created_at.format("%Y-%m-%d %H:%M"), m.content.trim());
    if let Some(error) = &m.error {
        out.push_str(&format!("\n_Failed: {error}_\n"));
    }
    if !m.sources.is_empty() {
        out.push_str("\nSources:\n");
        for s in &m.sources {
            out.push_str(&format!("{}. {}\n", s.n, s.location()));
        }
    }
    if let Some(f) = m.feedback {
        let thumb = if f > 0 { "👍" } else { "👎" };
        match &m.feedback_comment {
            Some(c) => out.push_str(&format!("\nFeedback: {thumb} {c}\n")),
            None => out.push_str(&format!("\nFeedback: {thumb}\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn file_names_are_tidy() {
        assert_eq!(file_stem("Where is the office? (2nd try)"), "where-is-the-office-2nd-try");
        assert_eq!(file_stem("???"), "conversation");
    }
}
