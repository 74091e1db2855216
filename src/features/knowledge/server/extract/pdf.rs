//! PDF text layer, page by page, through `pdf-extract`. Pages become sections so citations
//! can name the page. The parser is run under `catch_unwind` because malformed files can make
//! it panic, and a bad upload must fail alone, not take a worker thread with it.

use super::{unreadable, Extracted, Section, Unreadable};

pub fn extract(bytes: &[u8]) -> Result<Extracted, Unreadable> {
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| unreadable("The PDF is damaged and could not be read."))?
        .map_err(|e| {
            let detail = e.to_string().to_lowercase();
            if detail.contains("crypt") || detail.contains("password") {
                unreadable("The PDF is password-protected; remove the protection and upload it again.")
            } else {
                unreadable("The PDF is damaged or truncated and could not be read.")
            }
        })?;
    let page_count = pages.len() as i32;
    let sections: Vec<Section> = pages
        .into_iter()
        .enumerate()
        .map(|(i, text)| Section { heading_path: String::new(), page: Some(i as i32 + 1), text: tidy(&text) })
        .filter(|s| !s.text.is_empty())
        .collect();
    if sections.is_empty() {
        return Err(unreadable("No extractable text: is it a scanned PDF? OCR is not supported."));
    }
    Ok(Extracted { sections, pages: Some(page_count) })
}

/// PDF text comes with hard line breaks at every visual line; keep paragraph breaks only.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n") {
        let joined = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
        if !joined.is_empty() {
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&joined);
        }
    }
    out
}
