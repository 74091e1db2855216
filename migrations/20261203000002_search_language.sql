-- Keyword search in each bot's language. `search_language` is the owner's choice (a text
-- search configuration: `english`, `german`, …, or `simple`); `search_language_live` is the one
-- its chunks' words are stemmed with now. They differ while a worker re-stems the bot's chunks
-- (knowledge::server::language), which switches the live one in the same transaction.
ALTER TABLE bots ADD COLUMN search_language text NOT NULL DEFAULT 'english',
                 ADD COLUMN search_language_live text NOT NULL DEFAULT 'english';

-- The words of a chunk were always English; now they follow the bot's live language.
ALTER TABLE chunks ALTER COLUMN tsv DROP EXPRESSION;

CREATE FUNCTION chunks_set_tsv() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    language text;
BEGIN
    -- KEY SHARE waits for a language switch holding the bot row (FOR UPDATE) and then reads
    -- what it committed, so no chunk is stemmed in the old language after the switch.
    SELECT search_language_live INTO language FROM bots WHERE id = NEW.bot_id FOR KEY SHARE;
    NEW.tsv := to_tsvector(COALESCE(language, 'english')::regconfig, NEW.heading_path || ' ' || NEW.text);
    RETURN NEW;
END $$;
CREATE TRIGGER chunks_tsv BEFORE INSERT OR UPDATE OF text, heading_path ON chunks
    FOR EACH ROW EXECUTE FUNCTION chunks_set_tsv();

-- The worker looks for bots whose language changed.
CREATE INDEX bots_search_language_pending_idx ON bots (id) WHERE search_language <> search_language_live;
