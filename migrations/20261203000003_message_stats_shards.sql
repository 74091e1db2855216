-- Each bot's counts of a quarter hour were one row, and every question, every answer started
-- and every answer finished updated it: many questions to one bot at once queued on that row's
-- lock, each holding it until its commit reached the disk (500 questions at once: 1,500 commits
-- in single file). The counts are now spread over 8 rows per bucket, chosen by the message's
-- id, so the same message always adds to and subtracts from the same row. Every reader already
-- sums rows (`analytics::server::figures`), so nothing reads differently.

CREATE FUNCTION stats_shard(id uuid) RETURNS smallint LANGUAGE sql IMMUTABLE AS
$$ SELECT (get_byte(uuid_send(id), 15) % 8)::smallint $$;

ALTER TABLE message_stats ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE message_stats DROP CONSTRAINT message_stats_pkey;
ALTER TABLE message_stats ADD PRIMARY KEY (bot_id, bucket, provider, model, shard);

CREATE OR REPLACE FUNCTION message_stats_add(r messages, sign integer) RETURNS void LANGUAGE plpgsql AS $$
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
           AND provider = COALESCE(r.provider, '') AND model = COALESCE(r.model, '') AND shard = stats_shard(r.id);
    ELSE
        INSERT INTO message_stats AS s (bot_id, bucket, provider, model, shard, messages, questions, answers, answered, fallback,
                                        thumbs_up, thumbs_down, tokens_in, tokens_out)
        VALUES (r.bot_id, stats_bucket(r.created_at), COALESCE(r.provider, ''), COALESCE(r.model, ''), stats_shard(r.id), 1,
                (r.role = 'user')::int, (r.role = 'assistant')::int,
                (r.role = 'assistant' AND r.answered IS TRUE)::int, (r.role = 'assistant' AND r.answered IS FALSE)::int,
                (r.feedback IS NOT DISTINCT FROM 1)::int, (r.feedback IS NOT DISTINCT FROM -1)::int,
                COALESCE(r.tokens_in, 0), COALESCE(r.tokens_out, 0))
        ON CONFLICT (bot_id, bucket, provider, model, shard) DO UPDATE SET
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

-- Existing counts are recounted into their messages' rows, so a later change to an old message
-- (feedback, say) subtracts from the row it was added to.
DELETE FROM message_stats;
INSERT INTO message_stats (bot_id, bucket, provider, model, shard, messages, questions, answers, answered, fallback, thumbs_up, thumbs_down, tokens_in, tokens_out)
SELECT bot_id, stats_bucket(created_at), COALESCE(provider, ''), COALESCE(model, ''), stats_shard(id), count(*),
       count(*) FILTER (WHERE role = 'user'), count(*) FILTER (WHERE role = 'assistant'),
       count(*) FILTER (WHERE role = 'assistant' AND answered IS TRUE), count(*) FILTER (WHERE role = 'assistant' AND answered IS FALSE),
       count(*) FILTER (WHERE feedback = 1), count(*) FILTER (WHERE feedback = -1),
       COALESCE(sum(tokens_in), 0), COALESCE(sum(tokens_out), 0)
  FROM messages GROUP BY 1, 2, 3, 4, 5;
