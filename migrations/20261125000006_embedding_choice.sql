-- Each bot chooses its embedding model. `embedding_model` is the owner's choice; `embedder`
-- is the vector space searches use now. When they differ, the bot is being re-indexed in
-- the background from its kept chunks; the old space keeps answering until the new one is
-- complete, then `embedder` takes the new value and the old vectors are deleted.

ALTER TABLE bots
    ADD COLUMN embedding_model text,
    ADD COLUMN embedder text,
    ADD COLUMN reindex_done integer NOT NULL DEFAULT 0,
    ADD COLUMN reindex_total integer NOT NULL DEFAULT 0,
    ADD COLUMN reindex_error text,
    -- A worker re-indexing the bot holds this lease and renews it while it works.
    ADD COLUMN reindex_lease_until timestamptz;

-- Existing bots keep the space their vectors are in (the local model before this change).
UPDATE bots SET embedder = COALESCE((SELECT v.embedder FROM chunk_vectors v WHERE v.bot_id = bots.id LIMIT 1), 'local/all-MiniLM-L6-v2');
UPDATE bots SET embedding_model = embedder;
ALTER TABLE bots ALTER COLUMN embedding_model SET NOT NULL, ALTER COLUMN embedder SET NOT NULL;
CREATE INDEX bots_reindex_idx ON bots (reindex_lease_until NULLS FIRST) WHERE embedding_model <> embedder;

-- A chunk has one vector per space it is indexed in (two while a bot is re-indexed).
ALTER TABLE chunk_vectors DROP CONSTRAINT chunk_vectors_pkey;
ALTER TABLE chunk_vectors ADD PRIMARY KEY (chunk_id, embedder);
