//! Markdown to safe HTML, for answers. Nothing from a model or a document reaches the page as
//! markup: raw HTML is shown as text, links keep only http(s) and mailto targets, images
//! become links (a remote image would leak the reader's address), and `[n]` citation markers
//! become buttons that open source n. Code blocks get a copy button.

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

/// Text with `[n]` markers (n from 1 to `sources`) turned into citation buttons.
fn cite(text: &str, sources: usize, out: &mut Vec<Event<'static>>) {
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']');
        let number = close.and_then(|c| after[..c].parse::<usize>().ok()).filter(|n| (1..=sources).contains(n));
        match (close, number) {
            (Some(close), Some(n)) => {
                if open > 0 {
                    out.push(Event::Text(CowStr::from(rest[..open].to_owned())));
                }
                out.push(Event::InlineHtml(CowStr::from(format!(
                    "<button type=\"button\" class=\"cite\" data-cite=\"{n}\" aria-label=\"Source {n}\">{n}</button>"
                ))));
                rest = &after[close + 1..];
            }
            _ => {
                out.push(Event::Text(CowStr::from(rest[..=open].to_owned())));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        out.push(Event::Text(CowStr::from(rest.to_owned())));
    }
}

/// Renders `source` (citations numbered up to `sources`) as HTML that is safe to insert.
pub fn render(source: &str, sources: usize) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut events: Vec<Event<'static>> = Vec::new();
    let mut text = String::new();
    let mut in_code = false;
    let mut skip_link = Vec::new();
    let flush = |text: &mut String, events: &mut Vec<Event<'static>>| {
        if !text.is_empty() {
            cite(&std::mem::take(text), sources, events);
        }
    };
    for event in Parser::new_ext(source, options) {
        match event {
            // Adjacent text events are joined so "[", "1", "]" become one marker.
            Event::Text(t) if !in_code => text.push_str(&t),
            other => {
                flush(&mut text, &mut events);
                match other {
                    Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(CowStr::from(raw.into_string()))),
                    Event::Start(Tag::CodeBlock(kind)) => {
                        in_code = true;
                        events.push(Event::InlineHtml(CowStr::from(
                            "<div class=\"codeblock\"><button type=\"button\" class=\"copy\" data-copy>Copy</button>".to_string(),
                        )));
                        // push_html escapes the language name itself.
                        events.push(Event::Start(Tag::CodeBlock(kind)).into_static());
                    }
                    Event::End(TagEnd::CodeBlock) => {
                        in_code = false;
                        events.push(Event::End(TagEnd::CodeBlock));
                        events.push(Event::InlineHtml(CowStr::from("</div>".to_string())));
                    }
                    // An image is shown as a link to it; an unsafe target leaves only the text.
                    Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => {
                        let ok = safe_url(&dest_url);
                        skip_link.push(!ok);
                        if ok {
                            events.push(Event::Start(Tag::Link {
                                link_type: pulldown_cmark::LinkType::Inline,
                                dest_url: CowStr::from(dest_url.into_string()),
                                title: CowStr::from(String::new()),
                                id: CowStr::from(String::new()),
                            }));
                        }
                    }
                    Event::End(TagEnd::Link) | Event::End(TagEnd::Image) => {
                        if !skip_link.pop().unwrap_or(true) {
                            events.push(Event::End(TagEnd::Link));
                        }
                    }
                    other => events.push(other.into_static()),
                }
            }
        }
    }
    flush(&mut text, &mut events);
    let mut out = String::new();
    html::push_html(&mut out, events.into_iter());
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markup_from_models_and_documents_is_shown_as_text() {
        let html = render("Hi <script>alert(1)</script> <img src=x onerror=\"alert(2)\">\n\n<div onclick=alert(3)>x</div>", 0);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div onclick"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_safe_links_survive_and_images_become_links() {
        let html = render("[a](javascript:alert(1)) [b](https://example.com/x?a=1&b=\"2\") ![c](https://example.com/i.png) ![d](data:image/png;base64,xx)", 0);
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("data:image"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/x?a=1&amp;b=%222%22\">b</a>"), "{html}");
        assert!(html.contains("<a href=\"https://example.com/i.png\">c</a>"), "{html}");
    }

    #[test]
    fn citations_become_buttons_only_for_known_sources() {
        let html = render("Open at 9 [1][2]. See [7] and [note].", 2);
        assert!(html.contains("data-cite=\"1\""), "{html}");
        assert!(html.contains("data-cite=\"2\""), "{html}");
        assert!(!html.contains("data-cite=\"7\""), "{html}");
        assert!(html.contains("[7]") && html.contains("[note]"), "{html}");
    }

    #[test]
    fn code_blocks_get_a_copy_button_and_keep_their_text() {
        let html = render("```rust<x>\nlet a = [1];\n```", 3);
        assert!(html.contains("data-copy"), "{html}");
        assert!(html.contains("class=\"language-rust&lt;x&gt;\""), "escaped once: {html}");
        assert!(html.contains("let a = [1];"), "{html}");
        assert!(!html.contains("data-cite"), "{html}");
    }
}
