-- Conversations with a bot and every message in them, kept with what analytics needs:
-- sources, provider, model, timings, tokens, finish reason and feedback.

CREATE TABLE conversations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- Who is chatting: the signed-in user (the owner, for now; public visitors come later).
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    -- A stable, anonymous visitor key for "unique visitors" in analytics.
    visitor_key text NOT NULL,
    title       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_bot_updated_idx ON conversations (bot_id, updated_at DESC);
CREATE INDEX conversations_user_idx ON conversations (user_id, updated_at DESC);

CREATE TABLE messages (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Orders messages inside a conversation, whatever the clock says.
    position       bigserial NOT NULL,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- Repeated from the conversation so per-bot analytics read one indexed table.
    bot_id         uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('user', 'assistant')),
    content        text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'complete' CHECK (status IN ('streaming', 'complete', 'failed')),
    error          text,
    -- Assistant messages only from here on.
    provider       text,
    model          text,
    retrieval_query text,
    -- false: nothing relevant was found and the fallback was given (an unanswered question).
    answered       boolean,
    best_score     real,
    ttft_ms        integer,
    total_ms       integer,
    tokens_in      integer,
    tokens_out     integer,
    finish_reason  text,
    feedback       smallint CHECK (feedback IN (-1, 1)),
    feedback_comment text,
    feedback_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, position);
CREATE INDEX messages_bot_created_idx ON messages (bot_id, created_at);

-- The passages an answer was built from, numbered as cited. The text is a snapshot, so a
-- citation still shows what the answer saw after its document is reprocessed or deleted.
CREATE TABLE message_sources (
    message_id    uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    n             smallint NOT NULL CHECK (n > 0),
    chunk_id      bigint REFERENCES chunks (id) ON DELETE SET NULL,
    document_id   uuid REFERENCES documents (id) ON DELETE SET NULL,
    document_name text NOT NULL,
    heading_path  text NOT NULL DEFAULT '',
    page          integer,
    text          text NOT NULL,
    score         real NOT NULL,
    keyword_score real,
    vector_score  real,
    PRIMARY KEY (message_id, n)
);
CREATE INDEX message_sources_chunk_idx ON message_sources (chunk_id);
CREATE INDEX message_sources_document_idx ON message_sources (document_id);
