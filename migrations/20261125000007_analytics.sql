-- Analytics reads ranges of a bot's messages (and of the passages they cited) by time. The
-- columns it aggregates are carried in covering indexes, so a report over a million messages
-- is answered from the indexes alone (index-only scans), and the visitor and the time are
-- copied onto the rows that need them (by triggers, so every writer gets them).

-- Who asked, on each message (the conversation's visitor).
ALTER TABLE messages ADD COLUMN visitor_key text;
UPDATE messages m SET visitor_key = c.visitor_key FROM conversations c WHERE c.id = m.conversation_id;

CREATE FUNCTION messages_set_visitor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.visitor_key IS NULL THEN
        NEW.visitor_key := (SELECT visitor_key FROM conversations WHERE id = NEW.conversation_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER messages_visitor BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION messages_set_visitor();

DROP INDEX messages_bot_created_idx;
CREATE INDEX messages_bot_created_idx ON messages (bot_id, created_at)
    INCLUDE (role, answered, feedback, ttft_ms, total_ms, tokens_in, tokens_out, visitor_key, provider, model);

-- The bot and the time on each cited passage, for "most cited" and "never cited" per range.
ALTER TABLE message_sources ADD COLUMN bot_id uuid, ADD COLUMN created_at timestamptz;
UPDATE message_sources s SET bot_id = m.bot_id, created_at = m.created_at FROM messages m WHERE m.id = s.message_id;

CREATE FUNCTION message_sources_set_origin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT bot_id, created_at INTO NEW.bot_id, NEW.created_at FROM messages WHERE id = NEW.message_id;
    RETURN NEW;
END $$;
CREATE TRIGGER message_sources_origin BEFORE INSERT ON message_sources FOR EACH ROW EXECUTE FUNCTION message_sources_set_origin();

DROP INDEX message_sources_document_idx;
CREATE INDEX message_sources_document_idx ON message_sources (document_id, created_at);
CREATE INDEX message_sources_bot_created_idx ON message_sources (bot_id, created_at) INCLUDE (document_id, document_name);

-- Conversations started per day.
CREATE INDEX conversations_bot_created_idx ON conversations (bot_id, created_at) INCLUDE (visitor_key);

-- Unanswered questions the owner has answered (with a Q&A document) leave the list.
CREATE TABLE resolved_questions (
    -- The answer that was the fallback (or stood on a weak passage).
    message_id  uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- The Q&A document written as its answer.
    document_id uuid REFERENCES documents (id) ON DELETE SET NULL,
    resolved_at timestamptz NOT NULL DEFAULT now()
);

-- Counts per bot, quarter of an hour (every time zone's midnight falls on one) and model,
-- kept by a trigger on messages, so the daily series, the totals and the usage of a range
-- sum a few thousand rows instead of scanning its messages. Distinct visitors and the
-- speed percentiles cannot be summed; they read the covering index above.
CREATE TABLE message_stats (
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    bucket      timestamptz NOT NULL,
    provider    text NOT NULL DEFAULT '',
    model       text NOT NULL DEFAULT '',
    messages    bigint NOT NULL DEFAULT 0,
    questions   bigint NOT NULL DEFAULT 0,
    answers     bigint NOT NULL DEFAULT 0,
    answered    bigint NOT NULL DEFAULT 0,
    fallback    bigint NOT NULL DEFAULT 0,
    thumbs_up   bigint NOT NULL DEFAULT 0,
    thumbs_down bigint NOT NULL DEFAULT 0,
    tokens_in   bigint NOT NULL DEFAULT 0,
    tokens_out  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (bot_id, bucket, provider, model)
);

CREATE FUNCTION stats_bucket(at timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
$$ SELECT to_timestamp(floor(extract(epoch FROM at) / 900) * 900) $$;

-- Adds (sign 1) or removes (sign -1) one message's part of the counts.
CREATE FUNCTION message_stats_add(r messages, sign integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF sign < 0 THEN
        -- Only ever decrement here: while a bot is being deleted its rows may be gone already.
        UPDATE message_stats SET
            messages = messages - 1,
            questions = questions - (r.role = 'user')::int,
            answers = answers - (r.role = 'assistant')::int,
            answered = answered - (r.role = 'assistant' AND r.answered IS TRUE)::int,
            fallback = fallback - (r.role = 'assistant' AND r.answered IS FALSE)::int,
            thumbs_up = thumbs_up - (r.feedback IS NOT DISTINCT FROM 1)::int,
            thumbs_down = thumbs_down - (r.feedback IS NOT DISTINCT FROM -1)::int,
            tokens_in = tokens_in - COALESCE(r.tokens_in, 0),
            tokens_out = tokens_out - COALESCE(r.tokens_out, 0)
         WHERE bot_id = r.bot_id AND bucket = stats_bucket(r.created_at)
           AND provider = COALESCE(r.provider, '') AND model = COALESCE(r.model, '');
    ELSE
        INSERT INTO message_stats AS s (bot_id, bucket, provider, model, messages, questions, answers, answered, fallback,
                                        thumbs_up, thumbs_down, tokens_in, tokens_out)
        VALUES (r.bot_id, stats_bucket(r.created_at), COALESCE(r.provider, ''), COALESCE(r.model, ''), 1,
                (r.role = 'user')::int, (r.role = 'assistant')::int,
                (r.role = 'assistant' AND r.answered IS TRUE)::int, (r.role = 'assistant' AND r.answered IS FALSE)::int,
                (r.feedback IS NOT DISTINCT FROM 1)::int, (r.feedback IS NOT DISTINCT FROM -1)::int,
                COALESCE(r.tokens_in, 0), COALESCE(r.tokens_out, 0))
        ON CONFLICT (bot_id, bucket, provider, model) DO UPDATE SET
            messages = s.messages + 1,
            questions = s.questions + EXCLUDED.questions,
            answers = s.answers + EXCLUDED.answers,
            answered = s.answered + EXCLUDED.answered,
            fallback = s.fallback + EXCLUDED.fallback,
            thumbs_up = s.thumbs_up + EXCLUDED.thumbs_up,
            thumbs_down = s.thumbs_down + EXCLUDED.thumbs_down,
            tokens_in = s.tokens_in + EXCLUDED.tokens_in,
            tokens_out = s.tokens_out + EXCLUDED.tokens_out;
    END IF;
END $$;

CREATE FUNCTION message_stats_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM message_stats_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM message_stats_add(NEW, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER message_stats_insert AFTER INSERT OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION message_stats_apply();
-- Answers stream into their row; only changes to what is counted touch the stats.
CREATE TRIGGER message_stats_update AFTER UPDATE ON messages FOR EACH ROW
    WHEN (OLD.answered IS DISTINCT FROM NEW.answered OR OLD.feedback IS DISTINCT FROM NEW.feedback
          OR OLD.tokens_in IS DISTINCT FROM NEW.tokens_in OR OLD.tokens_out IS DISTINCT FROM NEW.tokens_out
          OR OLD.provider IS DISTINCT FROM NEW.provider OR OLD.model IS DISTINCT FROM NEW.model
          OR OLD.role IS DISTINCT FROM NEW.role OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.bot_id IS DISTINCT FROM NEW.bot_id)
    EXECUTE FUNCTION message_stats_apply();

INSERT INTO message_stats (bot_id, bucket, provider, model, messages, questions, answers, answered, fallback, thumbs_up, thumbs_down, tokens_in, tokens_out)
SELECT bot_id, stats_bucket(created_at), COALESCE(provider, ''), COALESCE(model, ''), count(*),
       count(*) FILTER (WHERE role = 'user'), count(*) FILTER (WHERE role = 'assistant'),
       count(*) FILTER (WHERE role = 'assistant' AND answered IS TRUE), count(*) FILTER (WHERE role = 'assistant' AND answered IS FALSE),
       count(*) FILTER (WHERE feedback = 1), count(*) FILTER (WHERE feedback = -1),
       COALESCE(sum(tokens_in), 0), COALESCE(sum(tokens_out), 0)
  FROM messages GROUP BY 1, 2, 3, 4;
