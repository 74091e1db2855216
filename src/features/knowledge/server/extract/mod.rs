//! Turns an original file into text sections. The type is decided from the content first
//! (magic bytes, NULs, UTF-8 validity) and the name only breaks ties between text formats.
//! Every refusal is a sentence the owner can act on.

mod csv;
pub mod docx;
mod html;
mod pdf;
mod pptx;
pub mod sandbox;
mod text;
mod xlsx;
mod zip_guard;

/// A run of text under one heading (or on one page), the unit citations point at.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Section {
    pub heading_path: String,
    pub page: Option<i32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// The text of a file, cleaned of what PostgreSQL cannot store (NUL) and of other control
/// characters, which are never meaningful text.
pub fn extract(name: &str, bytes: &[u8]) -> Result<Extracted, Unreadable> {
    let mut extracted = extract_raw(name, bytes)?;
    for section in &mut extracted.sections {
        if section.text.contains(is_stray_control) {
            section.text.retain(|c| !is_stray_control(c));
        }
        if section.heading_path.contains(is_stray_control) {
            section.heading_path.retain(|c| !is_stray_control(c));
        }
    }
    Ok(extracted)
}

fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t' | '\r' | '\x0c')
}

/// Kinds of binary file people upload by mistake, by their first bytes.
const NOT_DOCUMENTS: &[(&[u8], &str)] = &[
    (b"\x7fELF", "a program"),
    (b"MZ", "a program"),
    (b"\x89PNG", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF8", "an image"),
    (b"\x1f\x8b", "a compressed archive"),
    (b"7z\xbc\xaf", "a compressed archive"),
    (b"Rar!", "a compressed archive"),
];

/// Extensions that promise a binary format; text bytes under them are a damaged or renamed file.
const BINARY_EXTENSIONS: &[(&str, &str)] = &[
    (".pdf", "PDF"),
    (".docx", "Word document"),
    (".pptx", "PowerPoint presentation"),
    (".xlsx", "Excel workbook"),
    (".xls", "Excel workbook"),
    (".ods", "spreadsheet"),
];

fn extract_raw(name: &str, bytes: &[u8]) -> Result<Extracted, Unreadable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(unreadable("The file is empty."));
    }
    let lower = name.to_ascii_lowercase();
    if bytes.starts_with(b"%PDF-") {
        return pdf::extract(bytes);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zipped(&lower, bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // The pre-2007 Office container; of its formats only Excel's can be read.
        return xlsx::extract(bytes)
            .map_err(|_| unreadable("Old binary Office files (.doc, .ppt) cannot be read; save the file as .docx or .pptx (or PDF) and upload that."));
    }
    if let Some((_, what)) = NOT_DOCUMENTS.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Err(unreadable(format!("This file is {what}, not a document; upload text, PDF, Word, PowerPoint, spreadsheet or web pages.")));
    }
    if let Some((_, kind)) = BINARY_EXTENSIONS.iter().find(|(ext, _)| lower.ends_with(ext)) {
        return Err(unreadable(format!("The file is named as a {kind} but is not one: it is damaged, or another kind of file renamed.")));
    }
    let decoded = text::decode(bytes)?;
    let text = decoded.as_ref();
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

/// Zip containers are told apart by what they hold, not by their name; the name only says
/// which document a damaged one was meant to be.
fn zipped(lower_name: &str, bytes: &[u8]) -> Result<Extracted, Unreadable> {
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
    if let Some((_, kind)) = BINARY_EXTENSIONS.iter().find(|(ext, _)| lower_name.ends_with(ext)) {
        return Err(unreadable(format!("The {kind} is damaged: its main part is missing, so it has no text to read.")));
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
        assert!(reason("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0").starts_with("This file is an image, not a document"));
        assert!(reason("tool.exe", b"\x7fELF\x02\x01\x01").starts_with("This file is a program"));
        assert!(reason("notes.docx", b"just some text").contains("named as a Word document but is not one"));
        assert_eq!(reason("a.txt", &[b"\x01\x02\x03".repeat(50), b"text".repeat(20)].concat()), "This file holds binary data, not text.");
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

    #[test]
    fn nul_and_control_characters_never_reach_the_text() {
        let out = extract("notes.txt", b"Text with NUL\0bytes and a bell\x07.\n\nNext\tline.").unwrap();
        assert_eq!(out.sections[0].text, "Text with NULbytes and a bell.\n\nNext\tline.");
    }
}
