//! Keyword search in process: Okapi BM25 over each bot's live, enabled chunks. PostgreSQL
//! stays the source of the words (each chunk's stored `tsvector`: the lexemes of the bot's
//! language, a text search configuration, and `to_tsvector` of the question in that same
//! language, so a question and a chunk are stemmed alike); this module keeps them as posting lists, cached per bot at its
//! `knowledge_version` like the vector matrices, so every server process serves the current
//! knowledge and a question costs one primary-key read plus the postings of its own terms.
//! Ranking in PostgreSQL (`ts_rank` on every chunk matching any term) was the largest cost per
//! question at 10k chunks, and it has no inverse document frequency.

use super::cache::VersionedCache;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// BM25's term-frequency saturation (the usual 1.2 of Robertson and Zaragoza, Lucene and
/// Elasticsearch) and length normalisation: 0.5 rather than the usual 0.75, since chunks are
/// already cut to similar lengths. SciFact training claims, keyword nDCG@10: b 0.75 0.691,
/// 0.5 0.696; k1 0.9 / b 0.4 (Anserini's BEIR setting) 0.696; k1 1.5 0.690.
const K1: f32 = 1.2;
const B: f32 = 0.5;

/// Every bot's keyword index, LRU within a byte budget.
pub struct KeywordIndexes {
    cache: VersionedCache<Uuid, BotIndex>,
}

/// One bot's live chunks at one knowledge version.
pub struct BotIndex {
    /// Chunk ids, by the document numbers the postings use.
    ids: Vec<i64>,
    terms: HashMap<Box<str>, Postings>,
}

struct Postings {
    idf: f32,
    docs: Vec<u32>,
    /// Each document's saturated, length-normalised term frequency: BM25 without the idf.
    weights: Vec<f32>,
}

impl BotIndex {
    pub fn bytes(&self) -> usize {
        let postings: usize = self.terms.iter().map(|(t, p)| t.len() + 64 + p.docs.len() * 8).sum();
        self.ids.len() * 8 + postings
    }

    pub fn chunks(&self) -> usize {
        self.ids.len()
    }

    /// Builds the index from `(chunk id, tsvectorsend(tsvector))` rows.
    pub fn build(rows: Vec<(i64, Vec<u8>)>) -> BotIndex {
        let mut vocabulary: HashMap<Box<str>, u32> = HashMap::new();
        let mut names: Vec<Box<str>> = Vec::new();
        let mut ids = Vec::with_capacity(rows.len());
        // Per document: its (term, frequency) pairs and its length in words.
        let mut docs: Vec<(Vec<(u32, u16)>, u32)> = Vec::with_capacity(rows.len());
        for (id, tsv) in rows {
            let mut terms = Vec::new();
            let mut length = 0u32;
            for (lexeme, frequency) in lexemes(&tsv) {
                let term = match vocabulary.get(lexeme) {
                    Some(t) => *t,
                    None => {
                        let t = names.len() as u32;
                        names.push(lexeme.into());
                        vocabulary.insert(lexeme.into(), t);
                        t
                    }
                };
                terms.push((term, frequency));
                length += frequency as u32;
            }
            ids.push(id);
            docs.push((terms, length));
        }
        drop(vocabulary);
        let n = docs.len();
        let average = (docs.iter().map(|(_, l)| *l as f64).sum::<f64>() / n.max(1) as f64).max(1.0) as f32;
        let mut frequency_of = vec![0u32; names.len()];
        for (terms, _) in &docs {
            for (t, _) in terms {
                frequency_of[*t as usize] += 1;
            }
        }
        let mut postings: Vec<Postings> = frequency_of
            .iter()
            .map(|&df| Postings {
                idf: (1.0 + (n as f32 - df as f32 + 0.5) / (df as f32 + 0.5)).ln(),
                docs: Vec::with_capacity(df as usize),
                weights: Vec::with_capacity(df as usize),
            })
            .collect();
        for (doc, (terms, length)) in docs.into_iter().enumerate() {
            let norm = K1 * (1.0 - B + B * length as f32 / average);
            for (t, tf) in terms {
                let p = &mut postings[t as usize];
                p.docs.push(doc as u32);
                p.weights.push(tf as f32 * (K1 + 1.0) / (tf as f32 + norm));
            }
        }
        BotIndex { ids, terms: names.into_iter().zip(postings).collect() }
    }

    /// The best `k` chunks for a question's lexemes, best first, ties by chunk id. Scores are
    /// the BM25 score over its most a chunk could reach for these terms (every term, saturated),
    /// so they run from 0 to 1 and say how much of the question's weight a chunk matches.
    pub fn search(&self, lexemes: &[String], k: usize) -> Vec<(i64, f32)> {
        let mut seen: Vec<&str> = Vec::new();
        let mut postings: Vec<&Postings> = Vec::new();
        for lexeme in lexemes {
            if let Some(p) = self.terms.get(lexeme.as_str()).filter(|_| !seen.contains(&lexeme.as_str())) {
                seen.push(lexeme);
                postings.push(p);
            }
        }
        let ceiling: f32 = postings.iter().map(|p| p.idf * (K1 + 1.0)).sum();
        if postings.is_empty() || k == 0 || ceiling <= 0.0 {
            return Vec::new();
        }
        let mut scores = vec![0f32; self.ids.len()];
        let mut touched: Vec<u32> = Vec::new();
        for p in postings {
            for (doc, weight) in p.docs.iter().zip(&p.weights) {
                let s = &mut scores[*doc as usize];
                if *s == 0.0 {
                    touched.push(*doc);
                }
                *s += p.idf * weight;
            }
        }
        let by_score = |a: &u32, b: &u32| scores[*b as usize].total_cmp(&scores[*a as usize]).then(self.ids[*a as usize].cmp(&self.ids[*b as usize]));
        if k < touched.len() {
            touched.select_nth_unstable_by(k, by_score);
            touched.truncate(k);
        }
        touched.sort_by(by_score);
        touched.into_iter().map(|d| (self.ids[d as usize], scores[d as usize] / ceiling)).collect()
    }
}

/// The lexemes of a `tsvector` in PostgreSQL's binary form (`tsvectorsend`: a 32-bit count,
/// then per lexeme its UTF-8 bytes, a NUL, a 16-bit count of positions and the positions),
/// with how many positions each has: its frequency in the text (1 when positions were
/// stripped). Reading the binary form is 2.5× faster than `tsv::text` at 100k chunks (PostgreSQL
/// formats 129 MB of text in 1.6 s) and needs no unescaping. Stops at anything malformed.
fn lexemes(bytes: &[u8]) -> impl Iterator<Item = (&str, u16)> {
    let count = bytes.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
    let mut rest = bytes.get(4..).unwrap_or_default();
    (0..count).map_while(move |_| {
        let end = rest.iter().position(|b| *b == 0)?;
        let lexeme = std::str::from_utf8(&rest[..end]).ok()?;
        let positions = rest.get(end + 1..end + 3).map(|b| u16::from_be_bytes([b[0], b[1]]))?;
        rest = rest.get(end + 3 + 2 * positions as usize..)?;
        Some((lexeme, positions.max(1)))
    })
}

impl KeywordIndexes {
    pub fn new(budget_bytes: usize) -> Self {
        Self { cache: VersionedCache::new(budget_bytes, BotIndex::bytes) }
    }

    /// Bytes of keyword indexes held in memory.
    pub fn cached_bytes(&self) -> usize {
        self.cache.weight()
    }

    /// The best `limit` live chunks of `bot` for `query`, best first, scored 0–1. Terms are
    /// OR-ed (a question rarely repeats every word of its answer); stop words match nothing.
    pub async fn search(&self, db: &PgPool, bot: Uuid, query: &str, limit: usize) -> Result<Vec<(i64, f32)>, KeywordError> {
        let row: Option<(i64, Vec<String>)> =
            sqlx::query_as("SELECT knowledge_version, tsvector_to_array(to_tsvector(search_language_live::regconfig, $2)) FROM bots WHERE id = $1")
                .bind(bot)
                .bind(query)
                .fetch_optional(db)
                .await?;
        let Some((version, lexemes)) = row else { return Ok(Vec::new()) };
        if lexemes.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.index(db, bot, version).await?;
        Ok(index.search(&lexemes, limit))
    }

    /// `bot`'s index at `version`; many questions to a bot whose knowledge just changed build
    /// it once.
    pub async fn index(&self, db: &PgPool, bot: Uuid, version: i64) -> Result<Arc<BotIndex>, KeywordError> {
        self.cache.get_or_fill(bot, version, || load(db, bot)).await
    }
}

/// Read after the version: a change in between makes the next question rebuild, never serve
/// stale postings under a new version. Built on the blocking pool, so a big bot's build does
/// not hold up other bots' questions.
async fn load(db: &PgPool, bot: Uuid) -> Result<BotIndex, KeywordError> {
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT c.id, tsvectorsend(c.tsv)
           FROM chunks c
           JOIN documents d ON d.id = c.document_id AND d.generation = c.generation AND d.enabled
          WHERE c.bot_id = $1",
    )
    .bind(bot)
    .fetch_all(db)
    .await?;
    tokio::task::spawn_blocking(move || BotIndex::build(rows)).await.map_err(|e| KeywordError::Build(e.to_string()))
}

#[derive(Debug, thiserror::Error)]
pub enum KeywordError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The build panicked: a defect, never the input's fault.
    #[error("building the keyword index failed: {0}")]
    Build(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(words: &str) -> Vec<String> {
        words.split_whitespace().map(str::to_owned).collect()
    }

    /// `tsvectorsend`'s layout for `(lexeme, positions)` pairs.
    fn tsv(entries: &[(&str, &[u16])]) -> Vec<u8> {
        let mut out = (entries.len() as u32).to_be_bytes().to_vec();
        for (lexeme, positions) in entries {
            out.extend(lexeme.as_bytes());
            out.push(0);
            out.extend((positions.len() as u16).to_be_bytes());
            for p in *positions {
                out.extend(p.to_be_bytes());
            }
        }
        out
    }

    fn row(id: i64, words: &[(&str, u16)]) -> (i64, Vec<u8>) {
        let positions: Vec<Vec<u16>> = words.iter().map(|(_, n)| (1..=*n).collect()).collect();
        let entries: Vec<(&str, &[u16])> = words.iter().zip(&positions).map(|((w, _), p)| (*w, p.as_slice())).collect();
        (id, tsv(&entries))
    }

    #[test]
    fn binary_tsvectors_are_read_with_their_frequencies() {
        let bytes = tsv(&[("harbour", &[1, 4, 0x4009]), ("it's", &[2]), ("café", &[3]), ("stripped", &[])]);
        let read: Vec<(&str, u16)> = lexemes(&bytes).collect();
        assert_eq!(read, vec![("harbour", 3), ("it's", 1), ("café", 1), ("stripped", 1)]);
        // Truncated or empty input yields what is whole, and never panics.
        assert_eq!(lexemes(&bytes[..bytes.len() - 3]).count(), 3);
        assert_eq!(lexemes(&[]).count(), 0);
        assert_eq!(lexemes(&[0, 0, 0, 9, b'a']).count(), 0);
    }

    #[test]
    fn rare_terms_outweigh_common_ones_and_scores_run_to_one() {
        let mut rows: Vec<(i64, Vec<u8>)> = (1..=60).map(|i| row(i, &[("harbour", 2), ("note", 1), ("open", 1)])).collect();
        rows.push(row(100, &[("lighthous", 1), ("keeper", 1), ("gull", 1)]));
        let index = BotIndex::build(rows);
        let hits = index.search(&question("harbour lighthous"), 5);
        assert_eq!(hits[0].0, 100, "{hits:?}");
        assert!(hits.iter().all(|(_, s)| *s > 0.0 && *s < 1.0));
        // A common word alone still finds its chunks, ties broken by id.
        let common = index.search(&question("harbour"), 3);
        assert_eq!(common.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(index.search(&question("zeppelin"), 5).is_empty());
        assert!(index.search(&question("harbour harbour"), 0).is_empty());
        // Repeating a term in the question does not count it twice.
        assert_eq!(index.search(&question("lighthous lighthous"), 1)[0].1, index.search(&question("lighthous"), 1)[0].1);
    }

    #[test]
    fn more_of_a_term_ranks_higher_and_longer_chunks_lower() {
        let index = BotIndex::build(vec![
            row(1, &[("tide", 1)]),
            row(2, &[("tide", 3)]),
            row(3, &[("tide", 1), ("a", 1), ("b", 1), ("c", 1), ("d", 1), ("e", 1), ("f", 1)]),
            row(4, &[("other", 1)]),
        ]);
        let ids: Vec<i64> = index.search(&question("tide"), 10).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![2, 1, 3]);
    }
}
