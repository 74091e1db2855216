//! Plain text and Markdown. Markdown headings become the heading path of what follows them,
//! so a citation can say "Setup › Database".

use super::Section;

pub fn plain_sections(text: &str) -> Vec<Section> {
    vec![Section { heading_path: String::new(), page: None, text: normalise(text) }]
}

/// Splits at ATX headings (`#` … `######`), outside fenced code blocks.
pub fn markdown_sections(text: &str) -> Vec<Section> {
    let mut sections = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = String::new();
    let mut in_fence = false;
    let flush = |sections: &mut Vec<Section>, path: &[(usize, String)], current: &mut String| {
        let body = normalise(current);
        if !body.is_empty() {
            let heading_path = path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(" › ");
            sections.push(Section { heading_path, page: None, text: body });
        }
        current.clear();
    };
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        }
        if !in_fence {
            if let Some((level, title)) = heading(trimmed) {
                flush(&mut sections, &path, &mut current);
                path.retain(|(l, _)| *l < level);
                path.push((level, title));
                continue;
            }
        }
        current.push_str(line);
        current.push('\n');
    }
    flush(&mut sections, &path, &mut current);
    sections
}

fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim();
    (!title.is_empty()).then(|| (level, title.to_owned()))
}

/// Unifies line endings and trims trailing space, keeping paragraph breaks.
fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n").lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_headings_nest_into_paths() {
        let md = "Intro line.\n# Setup\nInstall it.\n## Database\nRun postgres.\n```\n# not a heading\n```\n# Usage\nChat.";
        let s = markdown_sections(md);
        let paths: Vec<_> = s.iter().map(|s| s.heading_path.as_str()).collect();
        assert_eq!(paths, vec!["", "Setup", "Setup › Database", "Usage"]);
        assert!(s[2].text.contains("# not a heading"), "fenced code is text, not structure");
    }

    #[test]
    fn hashes_without_a_space_are_not_headings() {
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("### Title ###"), Some((3, "Title".into())));
    }
}
