//! Structure-aware chunking: chunks never cross a section (heading or page), paragraphs are
//! kept whole when they fit, and long ones are split at sentences, then at words. Each chunk
//! after the first in a section starts with the tail of the one before (overlap), so a fact
//! that straddles a boundary is still found whole.
//!
//! Sizes are in estimated model tokens (about 4/3 per English word, what WordPiece gives
//! all-MiniLM-L6-v2 on prose), since the embedding model's window is counted in tokens.

use super::extract::Section;

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub ordinal: i32,
    pub heading_path: String,
    pub page: Option<i32>,
    pub text: String,
    pub token_count: i32,
}

pub fn estimate_tokens(text: &str) -> usize {
    text.split_whitespace().map(|w| 1 + w.chars().count() / 6).sum()
}

/// Pieces no larger than `target` tokens: paragraphs, else sentences, else runs of words.
fn units(text: &str, target: usize) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if estimate_tokens(paragraph) <= target {
            out.push(paragraph.to_owned());
            continue;
        }
        for sentence in split_sentences(paragraph) {
            if estimate_tokens(&sentence) <= target {
                out.push(sentence);
                continue;
            }
            let mut run = String::new();
            for word in sentence.split_whitespace().flat_map(|w| pieces(w, target)) {
                if !run.is_empty() && estimate_tokens(&run) + estimate_tokens(word) > target {
                    out.push(std::mem::take(&mut run));
                }
                if !run.is_empty() {
                    run.push(' ');
                }
                run.push_str(word);
            }
            if !run.is_empty() {
                out.push(run);
            }
        }
    }
    out
}

/// A "word" longer than a chunk (base64, a minified line) is cut into runs that fit one.
fn pieces(word: &str, target: usize) -> impl Iterator<Item = &str> {
    let max_chars = target.saturating_sub(1).max(1) * 6;
    let mut rest = word;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = rest.char_indices().nth(max_chars).map_or(rest.len(), |(i, _)| i);
        let (head, tail) = rest.split_at(cut);
        rest = tail;
        Some(head)
    })
}

fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        let ends = matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        if ends {
            out.push(text[start..=i].trim().to_owned());
            start = i + 1;
        }
    }
    if start < text.len() && !text[start..].trim().is_empty() {
        out.push(text[start..].trim().to_owned());
    }
    out
}

/// The last `overlap` tokens' worth of whole words of `text`.
fn tail(text: &str, overlap: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut taken = 0;
    let mut count = 0;
    for word in words.iter().rev() {
        let t = estimate_tokens(word);
        if taken + t > overlap {
            break;
        }
        taken += t;
        count += 1;
    }
    words[words.len() - count..].join(" ")
}

pub fn chunk(sections: &[Section], target: usize, overlap: usize) -> Vec<Chunk> {
    let target = target.max(16);
    let overlap = overlap.min(target / 2);
    let mut chunks: Vec<Chunk> = Vec::new();
    for section in sections {
        let mut current = String::new();
        let emit = |text: &mut String, chunks: &mut Vec<Chunk>| {
            if text.trim().is_empty() {
                return;
            }
            chunks.push(Chunk {
                ordinal: chunks.len() as i32,
                heading_path: section.heading_path.clone(),
                page: section.page,
                token_count: estimate_tokens(text) as i32,
                text: std::mem::take(text),
            });
        };
        let mut fresh = true;
        for unit in units(&section.text, target - overlap) {
            if !current.is_empty() && estimate_tokens(&current) + estimate_tokens(&unit) > target {
                let carried = tail(&current, overlap);
                emit(&mut current, &mut chunks);
                current = carried;
                fresh = false;
            }
            if !current.is_empty() {
                current.push_str(if fresh { "\n\n" } else { " " });
            }
            fresh = true;
            current.push_str(&unit);
        }
        emit(&mut current, &mut chunks);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(heading: &str, text: &str) -> Section {
        Section { heading_path: heading.into(), page: None, text: text.into() }
    }

    #[test]
    fn small_sections_stay_whole_and_keep_their_heading() {
        let chunks = chunk(&[section("A", "One.\n\nTwo."), section("B", "Three.")], 100, 10);
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].heading_path.as_str(), chunks[0].text.as_str()), ("A", "One.\n\nTwo."));
        assert_eq!((chunks[1].ordinal, chunks[1].heading_path.as_str()), (1, "B"));
    }

    #[test]
    fn a_word_longer_than_a_chunk_is_cut_into_chunks() {
        let blob = "QUJD".repeat(50_000);
        let chunks = chunk(&[section("", &blob)], 64, 8);
        assert!(chunks.len() > 100);
        assert!(chunks.iter().all(|c| c.token_count as usize <= 64 && c.text.len() <= 64 * 6 + 8));
        assert!(chunks.iter().map(|c| c.text.len()).sum::<usize>() >= blob.len(), "nothing is lost");
    }

    #[test]
    fn long_text_is_split_under_the_target_with_overlap() {
        let sentences: Vec<String> = (0..200).map(|i| format!("Sentence number {i} says something short.")).collect();
        let chunks = chunk(&[section("", &sentences.join(" "))], 64, 12);
        assert!(chunks.len() > 5);
        for c in &chunks {
            assert!(c.token_count as usize <= 64, "chunk of {} tokens", c.token_count);
        }
        for pair in chunks.windows(2) {
            let last_word = pair[0].text.split_whitespace().last().unwrap();
            assert!(pair[1].text.contains(last_word), "the next chunk starts with the tail of the previous one");
        }
        let all: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join(" ");
        for s in &sentences {
            assert!(all.contains(s.as_str()), "nothing is lost: {s}");
        }
    }

    #[test]
    fn a_giant_word_run_is_split_at_words() {
        let text = "word ".repeat(1000);
        let chunks = chunk(&[section("", &text)], 50, 0);
        assert!(chunks.iter().all(|c| c.token_count <= 50));
        assert_eq!(chunks.iter().map(|c| c.text.split_whitespace().count()).sum::<usize>(), 1000);
    }
}

/// What is embedded for a passage: its heading path ("Refunds › Digital goods" says what a
/// terse passage is about), then its text.
pub fn text_to_embed(heading_path: &str, text: &str) -> String {
    if heading_path.is_empty() {
        text.to_owned()
    } else {
        format!("{heading_path}\n{text}")
    }
}
