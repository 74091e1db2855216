-- Chatbots. Everything that belongs to a bot (knowledge, conversations, analytics) will
-- reference bots(id) ON DELETE CASCADE, so deleting a bot leaves no orphans.

CREATE TABLE bots (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- What URLs show: random, so bots cannot be enumerated or guessed.
    public_id                  text NOT NULL UNIQUE CHECK (length(public_id) >= 16),
    owner_id                   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                       text NOT NULL,
    description                text NOT NULL DEFAULT '',
    avatar_emoji               text NOT NULL DEFAULT '🤖',
    persona                    text NOT NULL DEFAULT '',
    welcome_message            text NOT NULL DEFAULT '',
    suggested_questions        text[] NOT NULL DEFAULT '{}',
    llm_provider               text NOT NULL,
    llm_model                  text NOT NULL,
    temperature                real NOT NULL CHECK (temperature BETWEEN 0 AND 2),
    max_answer_tokens          integer NOT NULL CHECK (max_answer_tokens > 0),
    top_k                      integer NOT NULL CHECK (top_k > 0),
    min_relevance              real NOT NULL CHECK (min_relevance BETWEEN 0 AND 1),
    keyword_weight             real NOT NULL CHECK (keyword_weight BETWEEN 0 AND 1),
    answer_only_from_knowledge boolean NOT NULL DEFAULT true,
    fallback_message           text NOT NULL DEFAULT '',
    accent_color               text NOT NULL CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
    visibility                 text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    last_activity_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bots_owner_activity_idx ON bots (owner_id, last_activity_at DESC);

-- Uploaded avatar images, apart from the bot row so listing bots never reads image bytes.
CREATE TABLE bot_avatars (
    bot_id     uuid PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    mime       text NOT NULL,
    bytes      bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
