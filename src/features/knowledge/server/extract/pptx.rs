//! PowerPoint decks: each `ppt/slides/slideN.xml`, in slide order, becomes a section headed
//! "Slide N: <title>", its text runs (`a:t`) joined per paragraph (`a:p`). Speaker notes are
//! left out: they are the presenter's, not the audience's.

use super::docx::{push_entity, read_zip_part};
use super::{unreadable, Extracted, Section, Unreadable};
use quick_xml::events::Event;

pub fn extract(bytes: &[u8]) -> Result<Extracted, Unreadable> {
    super::zip_guard::check_unpacked_size(bytes)?;
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| unreadable("The file is a damaged zip archive and could not be read."))?;
    let mut slides: Vec<(u32, String)> = archive
        .file_names()
        .filter_map(|n| {
            let n = n.ok()?;
            let number = n.strip_prefix("ppt/slides/slide")?.strip_suffix(".xml")?.parse().ok()?;
            Some((number, n.to_string()))
        })
        .collect();
    slides.sort();
    let mut sections = Vec::new();
    for (position, (_, part)) in slides.iter().enumerate() {
        let Some(xml) = read_zip_part(bytes, part)? else { continue };
        let paragraphs = paragraphs(&xml)?;
        let Some(title) = paragraphs.first() else { continue };
        let number = position + 1;
        sections.push(Section {
            heading_path: format!("Slide {number}: {}", title.chars().take(80).collect::<String>()),
            page: Some(number as i32),
            text: paragraphs[1..].join("\n\n"),
        });
    }
    // A slide that holds only its title still says something.
    for s in sections.iter_mut().filter(|s| s.text.trim().is_empty()) {
        s.text = s.heading_path.split_once(": ").map(|(_, t)| t.to_owned()).unwrap_or_default();
    }
    if sections.is_empty() {
        return Err(unreadable("The presentation has no text on its slides."));
    }
    let pages = Some(slides.len() as i32);
    Ok(Extracted { sections, pages })
}

fn paragraphs(xml: &[u8]) -> Result<Vec<String>, Unreadable> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|_| bad())? {
            Event::Start(e) if e.name().as_ref() == "a:t" => in_text = true,
            Event::End(e) if e.name().as_ref() == "a:t" => in_text = false,
            Event::Text(t) if in_text => current.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if in_text => push_entity(&mut current, &r),
            Event::Empty(e) if e.name().as_ref() == "a:br" => current.push('\n'),
            Event::End(e) if e.name().as_ref() == "a:p" => {
                let p = current.trim();
                if !p.is_empty() {
                    out.push(p.to_owned());
                }
                current.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn bad() -> Unreadable {
    unreadable("A slide of the presentation is damaged and could not be read.")
}
