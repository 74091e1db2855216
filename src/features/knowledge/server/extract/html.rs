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

/// Deeper than this, a page is read as tagged text instead of as a tree: the HTML parser's
/// scope checks walk the open elements for each new block, which turns 100,000 nested `<div>`s
/// into billions of steps. Real pages nest a few dozen levels.
const MAX_TREE_DEPTH: usize = 1000;

pub fn extract(html: &str) -> Result<Extracted, Unreadable> {
    if nesting_depth(html) > MAX_TREE_DEPTH {
        let sections = text::plain_sections(&strip_tags(html));
        if sections.iter().all(|s| s.text.trim().is_empty()) {
            return Err(unreadable("The page has no readable text."));
        }
        return Ok(Extracted { sections, pages: None });
    }
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

/// One step of the walk. The walk keeps its own stack instead of recursing: a page can nest
/// elements as deep as it likes, and the thread's stack is not that deep.
enum Step<'a> {
    Element(ElementRef<'a>),
    Text(&'a str),
    Write(&'static str),
}

fn walk(root: ElementRef<'_>, out: &mut String) {
    let mut stack = Vec::new();
    push_children(root, &mut stack);
    while let Some(step) = stack.pop() {
        match step {
            Step::Write(s) => out.push_str(s),
            Step::Text(t) => {
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
            Step::Element(el) => {
                let e = el.value();
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
                    stack.push(Step::Write("\n\n"));
                    push_children(el, &mut stack);
                } else if name == "td" || name == "th" {
                    stack.push(Step::Write(" | "));
                    push_children(el, &mut stack);
                } else {
                    push_children(el, &mut stack);
                }
            }
        }
    }
}

/// Children go on the stack last first, so they come off in document order.
fn push_children<'a>(element: ElementRef<'a>, stack: &mut Vec<Step<'a>>) {
    let before = stack.len();
    for child in element.children() {
        match child.value() {
            Node::Text(t) => stack.push(Step::Text(t)),
            Node::Element(_) => stack.extend(ElementRef::wrap(child).map(Step::Element)),
            _ => {}
        }
    }
    stack[before..].reverse();
}

/// Elements the parser closes on its own or that never hold anything: they do not nest.
const NOT_NESTING: &[&str] = &[
    "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp",
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr", "html", "head", "body",
];

/// A cheap upper bound of how deep the page's elements nest, from its tags alone.
fn nesting_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for tag in html.split('<').skip(1) {
        let closing = tag.starts_with('/');
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        if name.is_empty() || NOT_NESTING.contains(&name.as_str()) || tag.split('>').next().is_some_and(|t| t.ends_with('/')) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            depth += 1;
            deepest = deepest.max(depth);
        }
    }
    deepest
}

/// The text between the tags, without scripts and styles, with the common entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let after = &rest[open + 1..];
        let lower: String = after.chars().take(7).collect::<String>().to_ascii_lowercase();
        let end_of_tag = after.find('>').map_or(after.len(), |i| i + 1);
        rest = &after[end_of_tag..];
        for hidden in ["script", "style"] {
            if lower.starts_with(hidden) {
                let closes = |i: &usize| rest.as_bytes().get(i + 2..i + 2 + hidden.len()).is_some_and(|n| n.eq_ignore_ascii_case(hidden.as_bytes()));
                rest = match rest.match_indices("</").map(|(i, _)| i).find(closes) {
                    Some(i) => &rest[i..],
                    None => "",
                };
            }
        }
    }
    out.push_str(rest);
    let decoded = out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&nbsp;", " ").replace("&amp;", "&");
    decoded.split("\n").map(collapse).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
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
    fn deeply_nested_pages_are_read_without_recursion() {
        let depth = 20_000;
        let page = format!("<html><body>{}<p>Deep sentence here.</p>{}</body></html>", "<span>".repeat(depth), "</span>".repeat(depth));
        let out = super::extract(&page).unwrap();
        assert!(out.sections[0].text.contains("Deep sentence here."));
    }

    #[test]
    fn pathologically_deep_pages_are_read_as_tagged_text() {
        let depth = 100_000;
        let page = format!("<html><body>{}<p>Buried &amp; found.</p><script>alert(1)</script>{}</body></html>", "<div>".repeat(depth), "</div>".repeat(depth));
        let out = super::extract(&page).unwrap();
        let text: String = out.sections.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(text, "Buried & found.");
    }

    #[test]
    fn the_title_heads_a_page_without_h1_and_an_empty_page_is_refused() {
        let out = super::extract("<html><head><title>Notes</title></head><body><p>Plain body.</p></body></html>").unwrap();
        assert_eq!(out.sections[0].heading_path, "Notes");
        assert!(super::extract("<html><body><script>render()</script></body></html>").unwrap_err().0.contains("JavaScript"));
    }
}
