//! Plain text and Markdown. Markdown headings become the heading path of what follows them,
//! so a citation can say "Setup › Database".

use super::{unreadable, Section, Unreadable};
use std::borrow::Cow;

/// Bytes that claim to be text, as text: UTF-8 (a byte-order mark dropped), or UTF-16 when a
/// byte-order mark says so. A few invalid UTF-8 sequences in otherwise good text become U+FFFD
/// so the rest is kept; more than that, or control bytes beyond a trace, mean the file is not
/// text at all, and saying so is more useful than indexing garbage.
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, Unreadable> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Ok(Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let controls = bytes.iter().filter(|&&b| (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)) || b == 0x7f).count();
    // More than 2 % control bytes (and more than a handful, for short files) is not text.
    if controls > 4 && controls * 50 > bytes.len() {
        return Err(unreadable("This file holds binary data, not text."));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(first) => {
            let lossy = String::from_utf8_lossy(bytes);
            let replaced = lossy.chars().filter(|&c| c == char::REPLACEMENT_CHARACTER).count();
            if replaced * 100 <= lossy.chars().count() {
                Ok(lossy)
            } else {
                Err(unreadable(format!(
                    "The file is not valid UTF-8 text (invalid bytes at position {}); save it as UTF-8 and upload it again.",
                    first.valid_up_to()
                )))
            }
        }
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
}

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

const HEADING_MAX_BYTES: usize = 300;

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
    // A "heading" longer than a paragraph is a paragraph that starts with a hash.
    (!title.is_empty() && title.len() <= HEADING_MAX_BYTES).then(|| (level, title.to_owned()))
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
    fn text_encodings_are_decoded_and_binary_refused() {
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("Grüße 中文".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode(&utf16).unwrap(), "Grüße 中文");
        let utf16be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("café".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode(&utf16be).unwrap(), "café");
        assert_eq!(decode(b"\xEF\xBB\xBFhello").unwrap(), "hello");
        let mostly_good = [b"a".repeat(300), vec![0xFF], b"b".repeat(300)].concat();
        assert_eq!(decode(&mostly_good).unwrap().matches('\u{FFFD}').count(), 1, "a stray byte is replaced, the rest kept");
        assert!(decode(b"caf\xe9").unwrap_err().0.contains("position 3"));
        let noisy: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
        assert_eq!(decode(&noisy).unwrap_err().0, "This file holds binary data, not text.");
        assert!(decode(b"one NUL\0 in text is not binary").is_ok());
    }

    #[test]
    fn hashes_without_a_space_are_not_headings() {
        assert_eq!(heading("#hashtag"), None);
        assert_eq!(heading("### Title ###"), Some((3, "Title".into())));
        let one_long_line = format!("# {}", "word ".repeat(1000));
        assert_eq!(heading(&one_long_line), None);
        assert!(markdown_sections(&one_long_line)[0].text.starts_with("# word word"), "kept as text");
    }
}
