//! HTML pages (uploaded or fetched by URL): the main text, with its headings as structure.
//! Parsed with html5ever through `scraper`; what is not content (scripts, styles, navigation,
//! headers, footers, asides, forms, hidden elements) is dropped, and `<main>` or `<article>`
//! is preferred to the whole body when the page has one. The result is Markdown-shaped text
//! handed to the Markdown sectioniser, so headings become heading paths as in `.md` files.

use super::{text, unreadable, Extracted, Unreadable};
use scraper::{ElementRef, Html, Node, Selector};

const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg", "iframe", "button", "select", "canvas", "head",
];
const BLOCKS: &[&str] = &[
    "p", "div", "section", "article", "main", "li", "ul", "ol", "table", "tr", "blockquote", "pre", "dl", "dt", "dd", "figure", "figcaption", "address", "hr",
];

pub fn extract(html: &str) -> Result<Extracted, Unreadable> {
    let document = Html::parse_document(html);
    let pick = |css: &str| Selector::parse(css).ok().and_then(|s| document.select(&s).next());
    let root = pick("main").or_else(|| pick("article")).or_else(|| pick("[role=main]")).or_else(|| pick("body")).unwrap_or_else(|| document.root_element());
    let mut out = String::new();
    // The page title heads the text when the content has no top heading of its own.
    let title = pick("title").map(|t| collapse(&t.text().collect::<String>())).filter(|t| !t.is_empty());
    let has_h1 = Selector::parse("h1").ok().is_some_and(|s| root.select(&s).next().is_some());
    if let (Some(title), false) = (title, has_h1) {
        out.push_str(&format!("# {title}\n\n"));
    }
    walk(root, &mut out);
    let sections = text::markdown_sections(&out);
    if sections.iter().all(|s| s.text.trim().is_empty()) {
        return Err(unreadable("The page has no readable text (it may be built by JavaScript, which is not run)."));
    }
    Ok(Extracted { sections, pages: None })
}

fn walk(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(t) => {
                let piece = collapse(t);
                if !piece.is_empty() {
                    if !out.is_empty() && !out.ends_with(['\n', ' ']) && t.starts_with(char::is_whitespace) {
                        out.push(' ');
                    }
                    out.push_str(&piece);
                    if t.ends_with(char::is_whitespace) {
                        out.push(' ');
                    }
                }
            }
            Node::Element(e) => {
                let Some(el) = ElementRef::wrap(child) else { continue };
                let name = e.name();
                let hidden = e.attr("hidden").is_some() || e.attr("aria-hidden") == Some("true");
                if SKIPPED.contains(&name) || hidden {
                    continue;
                }
                if let Some(level) = heading_level(name) {
                    let heading = collapse(&el.text().collect::<String>());
                    if !heading.is_empty() {
                        out.push_str(&format!("\n\n{} {heading}\n\n", "#".repeat(level)));
                    }
                } else if name == "br" {
                    out.push('\n');
                } else if BLOCKS.contains(&name) {
                    out.push_str("\n\n");
                    walk(el, out);
                    out.push_str("\n\n");
                } else if name == "td" || name == "th" {
                    walk(el, out);
                    out.push_str(" | ");
                } else {
                    walk(el, out);
                }
            }
            _ => {}
        }
    }
}

fn heading_level(name: &str) -> Option<usize> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Runs of whitespace become one space, as a browser renders them.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn main_text_keeps_headings_and_drops_the_chrome() {
        let page = r#"<!doctype html><html><head><title>Harbour guide</title><style>p{}</style></head>
            <body><nav>Home | About</nav><header>Site banner</header>
            <main><h1>Harbour</h1><p>The   crane lifts <b>containers</b>.</p>
              <h2>Tides</h2><p>High tide is at noon.<br>Low at six.</p><script>alert(1)</script>
              <div hidden>secret</div><ul><li>One</li><li>Two</li></ul></main>
            <footer>© 2026</footer></body></html>"#;
        let out = super::extract(page).unwrap();
        let all: Vec<(String, String)> = out.sections.iter().map(|s| (s.heading_path.clone(), s.text.clone())).collect();
        assert_eq!(all[0], ("Harbour".to_string(), "The crane lifts containers.".to_string()));
        assert_eq!(all[1].0, "Harbour › Tides");
        assert!(all[1].1.contains("High tide is at noon.") && all[1].1.contains("One") && all[1].1.contains("Two"));
        let text: String = out.sections.iter().map(|s| s.text.as_str()).collect();
        for junk in ["Home", "banner", "alert", "secret", "2026", "p{}"] {
            assert!(!text.contains(junk), "{junk} leaked into {text}");
        }
    }

    #[test]
    fn the_title_heads_a_page_without_h1_and_an_empty_page_is_refused() {
        let out = super::extract("<html><head><title>Notes</title></head><body><p>Plain body.</p></body></html>").unwrap();
        assert_eq!(out.sections[0].heading_path, "Notes");
        assert!(super::extract("<html><body><script>render()</script></body></html>").unwrap_err().0.contains("JavaScript"));
    }
}
