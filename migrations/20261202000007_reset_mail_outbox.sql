-- A password-reset link someone was told is on its way. The request only records that a mail
-- is owed; whoever sends it (the asking process at once, or any process's sweep after a crash
-- or a mail-server outage) makes the link then, so no usable token is ever stored. Gone once
-- sent, refused for good, or older than a link would live.
CREATE TABLE reset_mail_outbox (
    id          bigserial PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attempts    integer NOT NULL DEFAULT 0,
    run_after   timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reset_mail_outbox_due_idx ON reset_mail_outbox (run_after);
