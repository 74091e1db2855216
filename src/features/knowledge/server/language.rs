//! Keyword search in a bot's own language: when its owner picks another, a worker re-stems the
//! bot's chunks with it and makes it live, in one transaction. Searches use the old language
//! until that commits (words and question stay stemmed alike), a worker killed midway leaves
//! nothing half done, and chunks written meanwhile wait for it (see the `chunks_tsv` trigger).
//! Also: which language a bot's documents look like they are in, offered as a suggestion.

use crate::error::AppError;
use sqlx::PgPool;
use uuid::Uuid;

/// Re-stems one bot whose language changed. False when there was none.
pub async fn run_once(db: &PgPool) -> Result<bool, AppError> {
    let mut tx = db.begin().await?;
    let claimed: Option<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, search_language, search_language_live FROM bots
          WHERE search_language <> search_language_live LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((bot, language, was)) = claimed else { return Ok(false) };
    let started = std::time::Instant::now();
    let restemmed = sqlx::query("UPDATE chunks SET tsv = to_tsvector($2::regconfig, heading_path || ' ' || text) WHERE bot_id = $1")
        .bind(bot)
        .bind(&language)
        .execute(&mut *tx)
        .await;
    let chunks = match restemmed {
        Ok(done) => done.rows_affected(),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42704") => {
            // The configuration is gone from this PostgreSQL (validated when chosen): a
            // permanent problem, so the choice goes back rather than being retried forever.
            drop(tx);
            tracing::error!(%bot, %language, "text search configuration missing; keyword search stays in {was}");
            sqlx::query("UPDATE bots SET search_language = search_language_live WHERE id = $1").bind(bot).execute(db).await?;
            return Ok(true);
        }
        Err(e) => return Err(e.into()),
    };
    sqlx::query("UPDATE bots SET search_language_live = $2, knowledge_version = knowledge_version + 1 WHERE id = $1")
        .bind(bot)
        .bind(&language)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(%bot, from = %was, to = %language, chunks, ms = started.elapsed().as_millis() as u64, "keyword search re-indexed in another language");
    Ok(true)
}

/// The most frequent short words of each language keyword search offers a stemmer for and a
/// detector can tell apart by them (function words make up a third of running text).
const MARKERS: &[(&str, &[&str])] = &[
    ("english", &["the", "and", "of", "to", "is", "in", "that", "it", "for", "with", "are", "on", "this", "be", "at"]),
    ("german", &["der", "die", "und", "das", "ist", "nicht", "zu", "den", "mit", "sich", "des", "auf", "ein", "eine", "für"]),
    ("spanish", &["el", "la", "de", "que", "y", "los", "las", "en", "del", "se", "por", "un", "una", "para", "es"]),
    ("french", &["le", "la", "les", "et", "des", "est", "une", "du", "que", "pour", "dans", "pas", "sur", "au", "avec"]),
    ("italian", &["il", "di", "che", "è", "della", "per", "non", "una", "sono", "gli", "del", "le", "con", "nel", "alla"]),
    ("portuguese", &["o", "de", "que", "e", "do", "da", "em", "um", "para", "não", "uma", "os", "no", "se", "com"]),
    ("dutch", &["de", "het", "een", "en", "van", "ik", "te", "dat", "zijn", "niet", "voor", "met", "op", "aan", "ook"]),
    ("swedish", &["och", "att", "det", "som", "en", "på", "är", "av", "för", "med", "till", "den", "inte", "har", "om"]),
    ("danish", &["og", "det", "at", "en", "den", "til", "er", "som", "på", "de", "med", "af", "for", "ikke", "der"]),
    ("norwegian", &["og", "det", "er", "til", "som", "på", "en", "av", "for", "med", "har", "ikke", "jeg", "den", "å"]),
    ("finnish", &["ja", "on", "ei", "että", "se", "oli", "ovat", "mutta", "kun", "myös", "tai", "joka", "sen", "hän", "niin"]),
    ("turkish", &["ve", "bir", "bu", "da", "de", "için", "ile", "çok", "olarak", "daha", "gibi", "olan", "ne", "ama", "en"]),
    ("russian", &["и", "в", "не", "на", "что", "с", "по", "это", "как", "а", "к", "из", "для", "то", "он"]),
];

/// The language `text` reads as, when one language's function words clearly lead (at least
/// 8 % of its words, and half again as many as the next language's). `None` for short or mixed text.
pub fn detect(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(5000).map(str::to_lowercase).collect();
    if words.len() < 20 {
        return None;
    }
    let mut scores: Vec<(&'static str, usize)> = MARKERS
        .iter()
        .map(|(language, markers)| (*language, words.iter().filter(|w| markers.contains(&w.as_str())).count()))
        .collect();
    scores.sort_by(|a, b| b.1.cmp(&a.1));
    let (best, hits) = scores[0];
    let runner_up = scores[1].1;
    (hits * 100 >= words.len() * 8 && hits * 2 >= runner_up * 3).then_some(best)
}

/// The language a bot's knowledge reads as, from its first passages; `None` when too little
/// is there to tell. Checked against the owner's bot by the caller.
pub async fn detected(db: &PgPool, bot: Uuid) -> Result<Option<&'static str>, AppError> {
    let sample: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(text, ' ') FROM (SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id AND d.generation = c.generation
                                             WHERE c.bot_id = $1 ORDER BY c.id LIMIT 40) s",
    )
    .bind(bot)
    .fetch_one(db)
    .await?;
    Ok(sample.as_deref().and_then(detect))
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn tells_languages_apart_by_their_function_words() {
        let english = "The harbour office closes at six in the evening. Berth fees are paid at the office, and the ferries leave every hour from the northern quay. It is open on weekdays and the staff can help with the forms.";
        let german = "Das Hafenbüro schließt um achtzehn Uhr. Die Liegegebühren werden im Büro bezahlt, und die Fähren fahren stündlich vom Nordkai ab. Es ist an Werktagen geöffnet und das Personal hilft mit den Formularen.";
        let spanish = "La oficina del puerto cierra a las seis de la tarde. Las tarifas de amarre se pagan en la oficina, y los transbordadores salen cada hora del muelle norte. Está abierta los días laborables y el personal ayuda con los formularios.";
        assert_eq!(detect(english), Some("english"));
        assert_eq!(detect(german), Some("german"));
        assert_eq!(detect(spanish), Some("spanish"));
        assert_eq!(detect("Too short to tell."), None);
        let numbers = (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
        assert_eq!(detect(&numbers), None);
    }
}
