-- Developer API keys. The secret is shown once; only its SHA-256 is kept, with a short prefix
-- for the owner to tell keys apart. A key may use one bot or all of its owner's bots, to chat
-- only or also to manage knowledge; revoked keys stay listed (their conversations keep the name).

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- NULL: every bot of the owner, present and future. Deleting the bot ends the key.
    bot_id       uuid REFERENCES bots (id) ON DELETE CASCADE,
    permission   text NOT NULL CHECK (permission IN ('chat', 'manage')),
    secret_hash  bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    requests     bigint NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_owner_idx ON api_keys (owner_id, created_at DESC);

-- Conversations held over the API, and the key that held them.
ALTER TABLE conversations ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX conversations_api_key_idx ON conversations (api_key_id) WHERE api_key_id IS NOT NULL;

-- The fixed-window counters now limit API keys as well as visitors.
ALTER TABLE visitor_counts RENAME TO rate_counts;
ALTER INDEX visitor_counts_expiry_idx RENAME TO rate_counts_expiry_idx;
