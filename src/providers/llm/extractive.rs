//! The offline default: no key, no network, no invented words. It answers by quoting the
//! sentences of the retrieved passages that cover the question best, each with its citation,
//! under a label that says it is an extract. When no sentence covers enough of the question
//! it finishes with `NotInKnowledge` instead of quoting something merely nearby, and the
//! chat falls back to the bot's fallback message.

use super::{Llm, LlmEvent, LlmRequest, LlmStream, Passage};
use crate::domain::FinishReason;
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub const LABEL: &str = "*Quoted from your documents (an extract, not generated):*";

/// Share of the question's weighted terms the best sentence must contain.
const MIN_COVERAGE: f32 = 0.5;
/// Further sentences are quoted when they cover at least this share of what the best covers.
const COMPANION_RATIO: f32 = 0.8;
const MAX_SENTENCES: usize = 3;
const MAX_SENTENCE_CHARS: usize = 600;

pub struct ExtractiveLlm {
    /// Pause between streamed words; zero streams as fast as the client reads.
    pub word_delay: Duration,
}

impl Llm for ExtractiveLlm {
    fn provider(&self) -> &str {
        "offline"
    }

    fn stream(&self, request: LlmRequest) -> LlmStream {
        let input = request.estimated_input_tokens();
        let delay = self.word_delay;
        let Some((text, cut)) = compose(&request.question, &request.passages, request.max_tokens as usize) else {
            let events = vec![Ok(LlmEvent::Usage { input, output: 0 }), Ok(LlmEvent::Finish(FinishReason::NotInKnowledge))];
            return Box::pin(futures::stream::iter(events));
        };
        let pieces = split_words(&text);
        let output = pieces.len() as u32;
        let words = futures::stream::iter(pieces).then(move |piece| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(LlmEvent::Text(piece))
        });
        let finish = if cut { FinishReason::MaxTokens } else { FinishReason::Stop };
        let tail = futures::stream::iter(vec![Ok(LlmEvent::Usage { input, output }), Ok(LlmEvent::Finish(finish))]);
        Box::pin(words.chain(tail))
    }
}

/// The extract for `question`, and whether it was cut to `max_words`; `None` when the
/// passages do not cover the question.
pub fn compose(question: &str, passages: &[Passage], max_words: usize) -> Option<(String, bool)> {
    let asked: Vec<String> = terms(question).into_iter().collect::<HashSet<_>>().into_iter().collect();
    if asked.is_empty() {
        return None;
    }
    let sentences: Vec<(usize, usize, String, HashSet<String>)> = passages
        .iter()
        .enumerate()
        .flat_map(|(rank, p)| split_sentences(&p.text).into_iter().map(move |s| (rank, p.n, s)))
        .map(|(rank, n, s)| {
            let t = terms(&s).into_iter().collect();
            (rank, n, s, t)
        })
        .collect();
    if sentences.is_empty() {
        return None;
    }
    // Rarer terms say more about which sentence answers: weight by inverse sentence frequency.
    // A question term no passage mentions keeps the highest weight, so a question about
    // something the passages never name cannot reach the coverage bar.
    let mut df: HashMap<&str, usize> = HashMap::new();
    for (_, _, _, t) in &sentences {
        for term in &asked {
            if t.contains(term) {
                *df.entry(term.as_str()).or_default() += 1;
            }
        }
    }
    let total = sentences.len() as f32;
    let weight = |term: &str| (1.0 + total / (1.0 + *df.get(term).unwrap_or(&0) as f32)).ln();
    let asked_weight: f32 = asked.iter().map(|t| weight(t)).sum();
    let mut scored: Vec<(f32, f32, usize)> = sentences
        .iter()
        .enumerate()
        .map(|(i, (rank, _, _, t))| {
            let coverage = asked.iter().filter(|a| t.contains(*a)).map(|a| weight(a)).sum::<f32>() / asked_weight;
            // Ties go to the better-ranked passage.
            (coverage + 0.02 / (*rank as f32 + 1.0), coverage, i)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
    let best = scored[0].1;
    if best < MIN_COVERAGE {
        return None;
    }
    let mut out = format!("{LABEL}\n\n");
    let mut quoted = HashSet::new();
    for (_, _, i) in scored.into_iter().take_while(|s| s.1 >= best * COMPANION_RATIO) {
        let (_, n, sentence, _) = &sentences[i];
        if quoted.len() == MAX_SENTENCES || !quoted.insert(sentence.as_str()) {
            continue;
        }
        out.push_str(&format!("> {sentence} [{n}]\n\n"));
    }
    let out = out.trim_end().to_owned();
    let words = split_words(&out);
    if words.len() > max_words {
        return Some((words[..max_words].concat().trim_end().to_owned() + " …", true));
    }
    Some((out, false))
}

/// Sentences of a passage, on one line each: split at . ! ? followed by a space and a capital,
/// digit, quote or opening mark (Spanish ¿ ¡, German „), and at line breaks; Markdown heading
/// marks dropped.
pub fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches('#').trim();
        let chars: Vec<char> = line.chars().collect();
        let mut start = 0;
        for i in 0..chars.len() {
            let ends = matches!(chars[i], '.' | '!' | '?')
                && !(chars[i] == '.' && abbreviation(&chars[start..i]))
                && chars.get(i + 1).is_some_and(|c| c.is_whitespace())
                && chars.get(i + 2).is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || matches!(c, '"' | '“' | '„' | '«' | '(' | '¿' | '¡'));
            if ends {
                push_sentence(&mut out, &chars[start..=i]);
                start = i + 1;
            }
        }
        push_sentence(&mut out, &chars[start..]);
    }
    out
}

/// Whether the word just before a full stop is an abbreviation that rarely ends a sentence:
/// a single letter ("z. B.", "J. Smith") or a title ("Dr.", "Nr.", "Sra.").
fn abbreviation(before: &[char]) -> bool {
    let word: String = before.iter().rev().take_while(|c| c.is_alphabetic()).collect::<Vec<_>>().into_iter().rev().collect();
    let word = word.to_lowercase();
    word.chars().count() == 1 || ["dr", "mr", "mrs", "ms", "nr", "bzw", "ca", "sr", "sra", "st", "vgl", "vs"].contains(&word.as_str())
}

fn push_sentence(out: &mut Vec<String>, chars: &[char]) {
    let s: String = chars.iter().collect();
    let s = s.trim();
    if s.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
        return;
    }
    if s.chars().count() > MAX_SENTENCE_CHARS {
        out.push(s.chars().take(MAX_SENTENCE_CHARS).collect::<String>() + "…");
    } else {
        out.push(s.to_owned());
    }
}

/// Words with their following whitespace, so concatenating them gives the text back: the
/// units the answer streams in and the unit `max_tokens` counts.
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if !c.is_whitespace() && in_space {
            out.push(std::mem::take(&mut current));
            in_space = false;
        }
        if c.is_whitespace() {
            in_space = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "before", "being", "but", "by",
    "can", "could", "did", "do", "does", "doing", "during", "each", "for", "from", "had", "has", "have", "he", "her", "him",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "kind", "many", "me", "much", "my", "name", "not", "of", "on",
    "one", "or", "other", "our", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "type", "us", "use", "used", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your",
    // German and Spanish function words, so questions in those languages are judged by their
    // content words too (keyword search itself stems in the bot's own language).
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "und", "oder", "ist", "sind",
    "wird", "werden", "zu", "zum", "zur", "mit", "von", "vom", "im", "auf", "für", "nicht", "es", "sich", "wie",
    "wann", "wo", "welche", "welcher", "welches", "ich", "sie", "wir", "ihr", "man", "bei", "nach", "aus", "um", "am",
    "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al", "y", "o", "que", "qué", "en", "es", "son",
    "se", "por", "para", "con", "como", "cómo", "cuándo", "dónde", "cuál", "cuánto", "cuánta", "lo", "su", "sus",
    "mi", "le", "les", "hay", "está", "están",
];

/// Content terms: lower-cased words without stop words, with plural and verb endings cut so
/// that "ports"/"port" and "located"/"locate" meet.
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(word: &str) -> String {
    if word.chars().count() <= 4 || word.chars().any(|c| c.is_ascii_digit()) {
        return word.to_owned();
    }
    let mut base = if let Some(b) = word.strip_suffix("ies") {
        format!("{b}y")
    } else if let Some(b) = word.strip_suffix("ing").or_else(|| word.strip_suffix("ed")) {
        b.to_owned()
    } else if let Some(b) = word.strip_suffix("es").filter(|b| ["s", "x", "z", "ch", "sh"].iter().any(|e| b.ends_with(e))) {
        b.to_owned()
    } else if let Some(b) = word.strip_suffix('s').filter(|b| !b.ends_with('s')) {
        b.to_owned()
    } else {
        word.to_owned()
    };
    // "close", "closes", "closed" all meet at "clos".
    if base.chars().count() > 3 && base.ends_with('e') {
        base.pop();
    }
    if base.chars().count() < 3 { word.to_owned() } else { base }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(n: usize, text: &str) -> Passage {
        Passage { n, source: format!("doc {n}"), text: text.into() }
    }

    #[test]
    fn quotes_the_sentence_that_answers_with_its_citation() {
        let passages = [
            passage(1, "The harbour opens at dawn. Ferries leave every hour."),
            passage(2, "Berth fees are paid at the harbour office. The office closes at 6 pm on weekdays."),
        ];
        let (answer, cut) = compose("When does the harbour office close?", &passages, 500).unwrap();
        assert!(!cut);
        assert!(answer.starts_with(LABEL));
        assert!(answer.contains("> The office closes at 6 pm on weekdays. [2]"), "{answer}");
        assert!(!answer.contains("Ferries"), "{answer}");
    }

    #[test]
    fn declines_when_the_passages_do_not_cover_the_question() {
        let passages = [passage(1, "The harbour opens at dawn. Ferries leave every hour.")];
        assert_eq!(compose("What does the lighthouse keeper eat for breakfast?", &passages, 500), None);
        assert_eq!(compose("the of and", &passages, 500), None);
    }

    #[test]
    fn respects_the_answer_length() {
        let passages = [passage(1, "Ferries leave the harbour every hour from the northern quay, weather permitting, all year round.")];
        let (answer, cut) = compose("How often do ferries leave the harbour?", &passages, 8).unwrap();
        assert!(cut);
        assert_eq!(split_words(&answer).len(), 9, "{answer}"); // 8 words and the ellipsis
    }

    #[test]
    fn word_forms_meet_at_one_stem() {
        assert_eq!(terms("closes closed close"), vec!["clos", "clos", "clos"]);
        assert_eq!(terms("ports port boxes box ferries ferry located locate"), vec!["port", "port", "box", "box", "ferry", "ferry", "locat", "locat"]);
        assert_eq!(terms("the glass is on the table"), vec!["glass", "tabl"]);
    }

    #[test]
    fn german_and_spanish_sentences_split_and_answer() {
        assert_eq!(
            split_sentences("La oficina cierra a las seis. ¿Necesita ayuda? ¡Llame antes! „Willkommen“ steht am Tor. z. B. hier."),
            vec!["La oficina cierra a las seis.", "¿Necesita ayuda?", "¡Llame antes!", "„Willkommen“ steht am Tor. z. B. hier."]
        );
        let passages = [
            passage(1, "Die Fähren zur Insel fahren stündlich vom Nordkai ab. Das Hafenbüro schließt werktags um 18 Uhr."),
            passage(2, "La oficina del puerto cierra a las seis de la tarde. Los transbordadores salen cada hora del muelle norte."),
        ];
        let (de, _) = compose("Wann schließt das Hafenbüro?", &passages, 500).unwrap();
        assert!(de.contains("> Das Hafenbüro schließt werktags um 18 Uhr. [1]") && !de.contains("Fähren"), "{de}");
        let (es, _) = compose("¿Cuándo cierra la oficina del puerto?", &passages, 500).unwrap();
        assert!(es.contains("> La oficina del puerto cierra a las seis de la tarde. [2]") && !es.contains("transbordadores"), "{es}");
    }

    #[test]
    fn sentences_split_at_ends_not_at_abbreviated_numbers() {
        let s = split_sentences("# Hours\nOpen 9.30 to 17.00 daily. Closed on Sundays! Why? Because.");
        assert_eq!(s, vec!["Hours", "Open 9.30 to 17.00 daily.", "Closed on Sundays!", "Why?", "Because."]);
    }

    #[tokio::test]
    async fn streams_words_then_usage_then_finish() {
        let llm = ExtractiveLlm { word_delay: Duration::ZERO };
        let request = LlmRequest {
            model: "extractive".into(),
            system: String::new(),
            history: vec![],
            question: "When do ferries leave?".into(),
            passages: vec![passage(1, "Ferries leave every hour.")],
            temperature: 0.0,
            max_tokens: 100,
        };
        let events: Vec<LlmEvent> = llm.stream(request).map(|e| e.unwrap()).collect().await;
        let text: String = events.iter().filter_map(|e| if let LlmEvent::Text(t) = e { Some(t.as_str()) } else { None }).collect();
        assert!(text.ends_with("> Ferries leave every hour. [1]"), "{text}");
        assert!(matches!(events[events.len() - 2], LlmEvent::Usage { output, .. } if output as usize == events.len() - 2));
        assert_eq!(events.last(), Some(&LlmEvent::Finish(FinishReason::Stop)));
    }
}
