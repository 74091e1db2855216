-- Embedded vector store: one vector per chunk, beside the chunk, gone with it.

CREATE TABLE chunk_vectors (
    chunk_id bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
    bot_id   uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- The vector space (Embedder::id): vectors of different embedders are never compared.
    embedder text NOT NULL,
    -- Little-endian f32s, L2-normalised.
    vector   bytea NOT NULL
);
CREATE INDEX chunk_vectors_bot_idx ON chunk_vectors (bot_id, embedder);

-- Bumped whenever what a bot's searches may return changes (a chunk set swapped in, a
-- document deleted, enabled or disabled), so in-process caches of any server know to reload.
ALTER TABLE bots ADD COLUMN knowledge_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION bump_knowledge_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bots SET knowledge_version = knowledge_version + 1
     WHERE id = COALESCE(NEW.bot_id, OLD.bot_id);
    RETURN NULL;
END $$;

CREATE TRIGGER documents_change_knowledge
    AFTER UPDATE OF generation, enabled OR DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION bump_knowledge_version();
