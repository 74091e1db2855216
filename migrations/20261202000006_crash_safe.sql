-- Several processes, one database, kill -9 at any instant.

-- An answer being written holds a lease that its writer renews with every checkpoint of the
-- text so far. A row still 'streaming' after its lease ran out was being written by a process
-- that died: any process shows it as interrupted (with the text checkpointed), and the sweeper
-- closes it. Stop is a flag on the row, so it reaches the writer wherever it runs.
ALTER TABLE messages
    ADD COLUMN lease_until    timestamptz,
    ADD COLUMN stop_requested boolean NOT NULL DEFAULT false;
CREATE INDEX messages_streaming_idx ON messages (lease_until) WHERE status = 'streaming';

-- Vectors a remote store must forget (a deleted document, bot or account, a dropped embedding
-- space, a document's versions that are no longer live), kept until the store confirms,
-- retried with backoff: never a fire-and-forget task that a restart loses. No foreign keys:
-- what they name is already gone.
CREATE TABLE vector_deletions (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('document', 'retire', 'bot', 'space')),
    bot_id      uuid NOT NULL,
    document_id uuid,
    embedder    text,
    -- 'retire': the live version; every other version's records go.
    generation  integer,
    attempts    integer NOT NULL DEFAULT 0,
    run_after   timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IN ('document', 'retire')) = (document_id IS NOT NULL)),
    CHECK ((kind = 'retire') = (generation IS NOT NULL)),
    CHECK ((kind = 'space') = (embedder IS NOT NULL))
);
CREATE INDEX vector_deletions_due_idx ON vector_deletions (run_after);

-- Re-indexing's progress: the document versions already embedded into the new space, so a
-- process that dies half-way does not pay (Gemini bills per token) to embed them again.
CREATE TABLE reindex_progress (
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    embedder    text NOT NULL,
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    generation  integer NOT NULL,
    PRIMARY KEY (bot_id, embedder, document_id, generation)
);
