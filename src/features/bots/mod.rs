//! Chatbots: what a bot is, the rules its settings obey, and the pages that manage them.
//! The rules run in the browser (errors as you type) and again on the server (the truth).

mod api;
mod pages;
#[cfg(feature = "ssr")]
pub mod server;

pub use api::*;
pub use pages::*;

use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Private,
    /// Anyone with the link can chat with it.
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "private" => Some(Visibility::Private),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
}

/// Everything an owner can tune. A bot with only a name gets `BotSettings::named`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotSettings {
    pub name: String,
    pub description: String,
    pub avatar_emoji: String,
    pub persona: String,
    pub welcome_message: String,
    pub suggested_questions: Vec<String>,
    pub llm_provider: String,
    pub llm_model: String,
    /// The embedding model (vector space id) the bot's knowledge is indexed with. Changing it
    /// re-indexes the knowledge in the background.
    pub embedding_model: String,
    pub temperature: f32,
    pub max_answer_tokens: u32,
    /// How many passages the answer is built from.
    pub top_k: u32,
    /// Passages scoring below this (0–1) are not used.
    pub min_relevance: f32,
    /// 0 = vector search only, 1 = keyword search only.
    pub keyword_weight: f32,
    /// The PostgreSQL text search configuration keyword search stems with (`SEARCH_LANGUAGES`).
    /// Changing it re-indexes the knowledge's words in the background.
    #[serde(default = "default_search_language")]
    pub search_language: String,
    pub answer_only_from_knowledge: bool,
    pub fallback_message: String,
    pub accent_color: String,
    pub visibility: Visibility,
}

pub const DEFAULT_AVATAR: &str = "🤖";
pub const DEFAULT_ACCENT: &str = "#4f46e5";
pub const DEFAULT_FALLBACK: &str =
    "I couldn't find that in my knowledge. Try rephrasing, or ask about something the documents cover.";
pub const MAX_SUGGESTED_QUESTIONS: usize = 6;

/// Keyword search's languages: PostgreSQL's text search configurations (snowball stemmers and
/// stop words; `simple` only lower-cases, for languages it has no stemmer for), with labels.
pub const SEARCH_LANGUAGES: &[(&str, &str)] = &[
    ("simple", "Any language (no stemming)"),
    ("arabic", "Arabic"),
    ("armenian", "Armenian"),
    ("basque", "Basque"),
    ("catalan", "Catalan"),
    ("danish", "Danish"),
    ("dutch", "Dutch"),
    ("english", "English"),
    ("finnish", "Finnish"),
    ("french", "French"),
    ("german", "German"),
    ("greek", "Greek"),
    ("hindi", "Hindi"),
    ("hungarian", "Hungarian"),
    ("indonesian", "Indonesian"),
    ("irish", "Irish"),
    ("italian", "Italian"),
    ("lithuanian", "Lithuanian"),
    ("nepali", "Nepali"),
    ("norwegian", "Norwegian"),
    ("portuguese", "Portuguese"),
    ("romanian", "Romanian"),
    ("russian", "Russian"),
    ("serbian", "Serbian"),
    ("spanish", "Spanish"),
    ("swedish", "Swedish"),
    ("tamil", "Tamil"),
    ("turkish", "Turkish"),
    ("yiddish", "Yiddish"),
];

pub fn default_search_language() -> String {
    "english".into()
}

/// "German" for "german".
pub fn search_language_label(name: &str) -> &str {
    SEARCH_LANGUAGES.iter().find(|(n, _)| *n == name).map(|(_, label)| *label).unwrap_or(name)
}

impl BotSettings {
    pub fn named(name: &str, model: &ModelChoice, embedding_model: &str) -> Self {
        Self {
            name: name.trim().to_owned(),
            description: String::new(),
            avatar_emoji: DEFAULT_AVATAR.into(),
            persona: "You are a helpful assistant. Answer from the provided knowledge and say so when it does not cover the question.".into(),
            welcome_message: format!("Hi! I'm {}. Ask me anything about what I know.", name.trim()),
            suggested_questions: Vec::new(),
            llm_provider: model.provider.clone(),
            llm_model: model.model.clone(),
            embedding_model: embedding_model.to_owned(),
            temperature: 0.3,
            max_answer_tokens: 1024,
            top_k: 6,
            min_relevance: 0.2,
            keyword_weight: 0.5,
            search_language: default_search_language(),
            answer_only_from_knowledge: true,
            fallback_message: DEFAULT_FALLBACK.into(),
            accent_color: DEFAULT_ACCENT.into(),
            visibility: Visibility::Private,
        }
    }

    /// Checks every rule and returns the settings tidied (trimmed, empty questions dropped).
    /// The first broken rule is reported, naming its field.
    pub fn validate(mut self, limits: &BotLimits, models: &[ModelChoice], embedders: &[ModelChoice]) -> Result<Self, AppError> {
        self.name = self.name.trim().to_owned();
        self.description = self.description.trim().to_owned();
        self.avatar_emoji = self.avatar_emoji.trim().to_owned();
        self.fallback_message = self.fallback_message.trim().to_owned();
        self.welcome_message = self.welcome_message.trim().to_owned();
        self.accent_color = self.accent_color.trim().to_lowercase();
        self.suggested_questions = self
            .suggested_questions
            .iter()
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty())
            .collect();

        if self.name.is_empty() {
            return Err(AppError::invalid("name", "Give the bot a name."));
        }
        check_len("name", "Names", &self.name, limits.name_max)?;
        check_len("description", "Descriptions", &self.description, limits.description_max)?;
        check_len("persona", "Personas", &self.persona, limits.persona_max)?;
        check_len("welcome_message", "Welcome messages", &self.welcome_message, limits.message_max)?;
        check_len("fallback_message", "Fallback messages", &self.fallback_message, limits.message_max)?;
        if self.avatar_emoji.is_empty() || self.avatar_emoji.chars().count() > 8 || self.avatar_emoji.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::invalid("avatar_emoji", "Use a single emoji as the avatar."));
        }
        if self.suggested_questions.len() > MAX_SUGGESTED_QUESTIONS {
            return Err(AppError::invalid(
                "suggested_questions",
                format!("At most {MAX_SUGGESTED_QUESTIONS} suggested questions."),
            ));
        }
        for q in &self.suggested_questions {
            check_len("suggested_questions", "Suggested questions", q, limits.question_max)?;
        }
        if !models.iter().any(|m| m.provider == self.llm_provider && m.model == self.llm_model) {
            return Err(AppError::invalid(
                "llm_model",
                format!("The model {}/{} is not configured on this server.", self.llm_provider, self.llm_model),
            ));
        }
        if !embedders.iter().any(|m| m.model == self.embedding_model) {
            return Err(AppError::invalid(
                "embedding_model",
                format!("The embedding model {} is not configured on this server.", self.embedding_model),
            ));
        }
        if !(0.0..=2.0).contains(&self.temperature) || self.temperature.is_nan() {
            return Err(AppError::invalid("temperature", "Temperature runs from 0 to 2."));
        }
        if !(16..=limits.answer_tokens_max).contains(&self.max_answer_tokens) {
            return Err(AppError::invalid(
                "max_answer_tokens",
                format!("Answer length runs from 16 to {} tokens.", limits.answer_tokens_max),
            ));
        }
        if !(1..=limits.top_k_max).contains(&self.top_k) {
            return Err(AppError::invalid("top_k", format!("Use between 1 and {} passages.", limits.top_k_max)));
        }
        if !SEARCH_LANGUAGES.iter().any(|(name, _)| *name == self.search_language) {
            return Err(AppError::invalid("search_language", "Choose one of the listed languages for keyword search."));
        }
        if !(0.0..=1.0).contains(&self.min_relevance) || self.min_relevance.is_nan() {
            return Err(AppError::invalid("min_relevance", "Minimum relevance runs from 0 to 1."));
        }
        if !(0.0..=1.0).contains(&self.keyword_weight) || self.keyword_weight.is_nan() {
            return Err(AppError::invalid("keyword_weight", "The keyword/vector balance runs from 0 to 1."));
        }
        if self.answer_only_from_knowledge && self.fallback_message.is_empty() {
            return Err(AppError::invalid(
                "fallback_message",
                "A bot that answers only from knowledge needs a fallback message.",
            ));
        }
        if !is_hex_colour(&self.accent_color) {
            return Err(AppError::invalid("accent_color", "Use a colour like #4f46e5."));
        }
        Ok(self)
    }
}

fn check_len(field: &str, what: &str, value: &str, max: usize) -> Result<(), AppError> {
    if value.chars().count() > max {
        return Err(AppError::invalid(field, format!("{what} are at most {max} characters.")));
    }
    Ok(())
}

fn is_hex_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Limits from configuration (`[bots]` in Leptos.toml), sent to the editor so it can check
/// as you type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotLimits {
    pub max_bots_per_user: u32,
    pub name_max: usize,
    pub description_max: usize,
    pub persona_max: usize,
    pub message_max: usize,
    pub question_max: usize,
    pub answer_tokens_max: u32,
    pub top_k_max: u32,
    pub avatar_max_bytes: usize,
}

impl Default for BotLimits {
    fn default() -> Self {
        Self {
            max_bots_per_user: 50,
            name_max: 80,
            description_max: 500,
            persona_max: 8000,
            message_max: 1000,
            question_max: 200,
            answer_tokens_max: 8192,
            top_k_max: 20,
            avatar_max_bytes: 256 * 1024,
        }
    }
}

pub use crate::domain::ModelChoice;

/// What the editor needs besides the bot itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EditorOptions {
    pub limits: BotLimits,
    pub models: Vec<ModelChoice>,
    pub embedders: Vec<ModelChoice>,
}

/// Which vector space a bot's searches use now, and how far re-indexing into the chosen one
/// (`BotSettings::embedding_model`) has come when they differ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexState {
    pub live: String,
    /// The language keyword search uses now (until a re-index to `search_language` is done).
    #[serde(default = "default_search_language")]
    pub keyword_language: String,
    pub done: i32,
    pub total: i32,
    /// Why the last re-indexing attempt failed (it is retried).
    pub error: Option<String>,
}

/// A bot as its owner sees it in the editor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    pub public_id: String,
    pub settings: BotSettings,
    pub index: IndexState,
    /// Set when an image avatar was uploaded; changes with every upload (cache busting).
    pub avatar_url: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A bot on the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BotSummary {
    pub public_id: String,
    pub name: String,
    pub description: String,
    pub avatar_emoji: String,
    pub avatar_url: Option<String>,
    pub accent_color: String,
    pub visibility: Visibility,
    pub documents: i64,
    pub conversations: i64,
    pub last_activity_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline() -> ModelChoice {
        ModelChoice { provider: "offline".into(), model: "extractive".into(), label: "Offline".into(), ..Default::default() }
    }

    const LOCAL: &str = "local/all-MiniLM-L6-v2";

    fn ok(settings: BotSettings) -> Result<BotSettings, AppError> {
        let local = ModelChoice { provider: "local".into(), model: LOCAL.into(), label: "MiniLM".into(), ..Default::default() };
        settings.validate(&BotLimits::default(), &[offline()], &[local])
    }

    #[test]
    fn a_bot_with_just_a_name_is_valid() {
        let s = ok(BotSettings::named("  Helper  ", &offline(), LOCAL)).unwrap();
        assert_eq!(s.name, "Helper");
    }

    #[test]
    fn each_rule_names_its_field() {
        let base = BotSettings::named("Helper", &offline(), LOCAL);
        let field = |f: fn(&mut BotSettings)| {
            let mut s = base.clone();
            f(&mut s);
            ok(s).unwrap_err().field().map(str::to_owned)
        };
        assert_eq!(field(|s| s.name = "   ".into()).as_deref(), Some("name"));
        assert_eq!(field(|s| s.name = "n".repeat(81)).as_deref(), Some("name"));
        assert_eq!(field(|s| s.persona = "p".repeat(8001)).as_deref(), Some("persona"));
        assert_eq!(field(|s| s.suggested_questions = vec!["q".into(); 7]).as_deref(), Some("suggested_questions"));
        assert_eq!(field(|s| s.llm_model = "gpt-99".into()).as_deref(), Some("llm_model"));
        assert_eq!(field(|s| s.embedding_model = "gemini/unknown@768".into()).as_deref(), Some("embedding_model"));
        assert_eq!(field(|s| s.temperature = 2.5).as_deref(), Some("temperature"));
        assert_eq!(field(|s| s.temperature = f32::NAN).as_deref(), Some("temperature"));
        assert_eq!(field(|s| s.top_k = 0).as_deref(), Some("top_k"));
        assert_eq!(field(|s| s.min_relevance = 1.5).as_deref(), Some("min_relevance"));
        assert_eq!(field(|s| s.keyword_weight = -0.1).as_deref(), Some("keyword_weight"));
        assert_eq!(field(|s| s.fallback_message = " ".into()).as_deref(), Some("fallback_message"));
        assert_eq!(field(|s| s.accent_color = "red".into()).as_deref(), Some("accent_color"));
        assert_eq!(field(|s| s.avatar_emoji = "AB".into()).as_deref(), Some("avatar_emoji"));
    }

    #[test]
    fn blank_suggested_questions_are_dropped_and_colours_lower_cased() {
        let mut s = BotSettings::named("Helper", &offline(), LOCAL);
        s.suggested_questions = vec!["  What is it? ".into(), "".into(), "   ".into()];
        s.accent_color = "#AABBCC".into();
        let s = ok(s).unwrap();
        assert_eq!(s.suggested_questions, vec!["What is it?".to_string()]);
        assert_eq!(s.accent_color, "#aabbcc");
    }

    #[test]
    fn a_bot_allowed_to_improvise_needs_no_fallback() {
        let mut s = BotSettings::named("Helper", &offline(), LOCAL);
        s.answer_only_from_knowledge = false;
        s.fallback_message.clear();
        assert!(ok(s).is_ok());
    }
}
