//! Word documents: `word/document.xml` read with `quick-xml`. Paragraph styles `Title` and
//! `Heading1`…`Heading9` become the heading path. The decompressed part is capped, so a zip
//! bomb is refused instead of filling memory.

use super::{unreadable, Extracted, Section, Unreadable};
use quick_xml::events::Event;
use std::io::Read;

/// Largest decompressed XML part accepted.
pub const MAX_PART_BYTES: u64 = super::zip_guard::MAX_UNPACKED_BYTES;

pub fn read_zip_part(bytes: &[u8], name: &str) -> Result<Option<Vec<u8>>, Unreadable> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| unreadable("The file is a damaged zip archive and could not be read."))?;
    let part = match archive.by_name(name) {
        Ok(part) => part,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(_) => return Err(unreadable("The file is a damaged zip archive and could not be read.")),
    };
    let too_big = super::zip_guard::too_big;
    if part.size() > MAX_PART_BYTES {
        return Err(too_big());
    }
    // The declared size can lie: read at most one byte past the cap to find out.
    let mut out = Vec::new();
    part.take(MAX_PART_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|_| unreadable("The file is a damaged zip archive and could not be read."))?;
    if out.len() as u64 > MAX_PART_BYTES {
        return Err(too_big());
    }
    Ok(Some(out))
}

pub fn extract(bytes: &[u8]) -> Result<Extracted, Unreadable> {
    let xml = read_zip_part(bytes, "word/document.xml")?
        .ok_or_else(|| unreadable("This zip file is not a Word document (no word/document.xml)."))?;
    let paragraphs = paragraphs(&xml)?;
    let mut sections: Vec<Section> = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut body = String::new();
    let flush = |sections: &mut Vec<Section>, path: &[(usize, String)], body: &mut String| {
        if !body.trim().is_empty() {
            let heading_path = path.iter().map(|(_, h)| h.as_str()).collect::<Vec<_>>().join(" › ");
            sections.push(Section { heading_path, page: None, text: body.trim().to_owned() });
        }
        body.clear();
    };
    for (level, text) in paragraphs {
        match level {
            Some(level) if !text.trim().is_empty() => {
                flush(&mut sections, &path, &mut body);
                path.retain(|(l, _)| *l < level);
                path.push((level, text.trim().to_owned()));
            }
            _ if !text.trim().is_empty() => {
                body.push_str(text.trim());
                body.push_str("\n\n");
            }
            _ => {}
        }
    }
    flush(&mut sections, &path, &mut body);
    if sections.is_empty() {
        return Err(unreadable("The Word document has no text in it."));
    }
    Ok(Extracted { sections, pages: None })
}

/// Each paragraph's heading level (None for body text) and its text.
fn paragraphs(xml: &[u8]) -> Result<Vec<(Option<usize>, String)>, Unreadable> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut level = None;
    let mut in_text = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| unreadable("The Word document's text is damaged and could not be read."))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "w:p" => {
                    text.clear();
                    level = None;
                }
                "w:t" => in_text = true,
                "w:tab" => text.push('\t'),
                "w:br" | "w:cr" => text.push('\n'),
                "w:pStyle" => {
                    if let Some(val) = e.attributes().flatten().find(|a| a.key.as_ref() == "w:val") {
                        level = heading_level(&val.value);
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_text => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => push_entity(&mut text, &r),
            Event::End(e) => match e.name().as_ref() {
                "w:t" => in_text = false,
                "w:p" => out.push((level, std::mem::take(&mut text))),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn heading_level(style: &str) -> Option<usize> {
    if style.eq_ignore_ascii_case("title") {
        return Some(1);
    }
    let digits = style.strip_prefix("Heading").or_else(|| style.strip_prefix("heading"))?;
    digits.trim().parse::<usize>().ok().filter(|l| (1..=9).contains(l)).map(|l| l + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn heading_styles_map_to_levels() {
        assert_eq!(super::heading_level("Title"), Some(1));
        assert_eq!(super::heading_level("Heading1"), Some(2));
        assert_eq!(super::heading_level("Heading 3"), Some(4));
        assert_eq!(super::heading_level("Normal"), None);
    }
}

/// Appends what an entity reference inside text stands for (`&amp;`, `&#8364;`, …).
pub fn push_entity(text: &mut String, r: &quick_xml::events::BytesRef<'_>) {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        text.push(c);
    } else {
        text.push_str(match r.as_ref() {
            "amp" => "&",
            "lt" => "<",
            "gt" => ">",
            "quot" => "\"",
            "apos" => "'",
            _ => "",
        });
    }
}
