//! Turns an original file into text sections. The type is decided from the content first
//! (magic bytes, NULs, UTF-8 validity) and the name only breaks ties between text formats.
//! Every refusal is a sentence the owner can act on.

mod csv;
pub mod docx;
mod html;
mod pdf;
mod pptx;
mod text;
mod xlsx;
mod zip_guard;

/// A run of text under one heading (or on one page), the unit citations point at.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub heading_path: String,
    pub page: Option<i32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub sections: Vec<Section>,
    pub pages: Option<i32>,
}

impl Extracted {
    pub fn char_count(&self) -> usize {
        self.sections.iter().map(|s| s.text.chars().count()).sum()
    }
}

/// Why a file cannot become knowledge. Permanent: retrying the same bytes cannot help.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

fn unreadable(message: impl Into<String>) -> Unreadable {
    Unreadable(message.into())
}

pub fn extract(name: &str, bytes: &[u8]) -> Result<Extracted, Unreadable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(unreadable("The file is empty."));
    }
    if bytes.starts_with(b"%PDF-") {
        return pdf::extract(bytes);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zipped(bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // The pre-2007 Office container; of its formats only Excel's can be read.
        return xlsx::extract(bytes)
            .map_err(|_| unreadable("Old binary Office files (.doc, .ppt) cannot be read; save the file as .docx or .pptx (or PDF) and upload that."));
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head.contains(&0) {
        return Err(unreadable("This file holds binary data, not text."));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        unreadable(format!(
            "The file is not valid UTF-8 text (invalid bytes at position {}); save it as UTF-8 and upload it again.",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lower = name.to_ascii_lowercase();
    let trimmed = text.trim_start().to_ascii_lowercase();
    if trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") || lower.ends_with(".html") || lower.ends_with(".htm") {
        return html::extract(text);
    }
    if lower.ends_with(".csv") || lower.ends_with(".tsv") {
        return csv::extract(text);
    }
    let sections = if lower.ends_with(".md") || lower.ends_with(".markdown") {
        text::markdown_sections(text)
    } else {
        text::plain_sections(text)
    };
    if sections.iter().all(|s| s.text.trim().is_empty()) {
        return Err(unreadable("The file has no text in it."));
    }
    Ok(Extracted { sections, pages: None })
}

/// Zip containers are told apart by what they hold, not by their name.
fn zipped(bytes: &[u8]) -> Result<Extracted, Unreadable> {
    if docx::read_zip_part(bytes, "word/document.xml")?.is_some() {
        return docx::extract(bytes);
    }
    let holds = |part: &str| docx::read_zip_part(bytes, part).map(|p| p.is_some());
    if holds("ppt/presentation.xml")? {
        return pptx::extract(bytes);
    }
    if holds("xl/workbook.xml")? || holds("content.xml")? && holds("mimetype")? {
        return xlsx::extract(bytes);
    }
    Err(unreadable("Zip archives are not supported; upload the documents inside it instead."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str, bytes: &[u8]) -> String {
        extract(name, bytes).unwrap_err().0
    }

    #[test]
    fn bad_inputs_each_get_a_reason() {
        assert_eq!(reason("a.txt", b""), "The file is empty.");
        assert_eq!(reason("a.txt", b"  \n\t "), "The file is empty.");
        assert!(reason("a.txt", b"%PDF-1.7\n...").starts_with("The PDF is damaged"));
        assert!(reason("a.txt", b"PK\x03\x04rest").starts_with("The file is a damaged zip archive"));
        assert_eq!(reason("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0"), "This file holds binary data, not text.");
        assert!(reason("latin1.txt", b"caf\xe9 au lait").contains("invalid bytes at position 3"));
        assert!(reason("page.txt", b"<!DOCTYPE html><script>x()</script>").contains("no readable text"));
    }

    #[test]
    fn text_is_read_and_a_bom_dropped() {
        let out = extract("notes.txt", "\u{feff}Hello there.\n\nSecond paragraph.".as_bytes()).unwrap();
        assert_eq!(out.sections.len(), 1);
        assert!(out.sections[0].text.starts_with("Hello there."));
        assert_eq!(out.char_count(), "Hello there.\n\nSecond paragraph.".chars().count());
    }
}
