-- "Why this answer?": every candidate an answer's retrieval ranked with its scores and what was
-- done with it, the exact prompt the model was sent and the search's timings. Written in the
-- statement that stores the answer's sources; the answer's own row keeps the rest (provider,
-- model, first token, whole answer, tokens, finish reason). Read by the bot's owner only.
CREATE TABLE answer_traces (
    message_id uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    trace      jsonb NOT NULL
);
