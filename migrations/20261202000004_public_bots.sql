-- Public bots: what a published bot lets visitors do (allowed websites, limits, appearance),
-- the visitors themselves (identified by a token the server issued, stored hashed), their
-- conversations, and the counters that enforce the limits without scanning history.
-- A bot is published when bots.visibility = 'public'.

CREATE TABLE bot_publishing (
    bot_id             uuid PRIMARY KEY REFERENCES bots (id) ON DELETE CASCADE,
    -- Origins the widget may load on ("https://shop.example", "https://*.example.com").
    allowed_sites      text[] NOT NULL DEFAULT '{}',
    per_visitor_minute integer NOT NULL DEFAULT 6,
    per_visitor_day    integer NOT NULL DEFAULT 60,
    per_address_day    integer NOT NULL DEFAULT 150,
    per_bot_day        integer NOT NULL DEFAULT 1000,
    per_bot_month      integer NOT NULL DEFAULT 20000,
    limit_message      text NOT NULL DEFAULT 'You have sent a lot of messages. Please wait a little before asking again.',
    show_sources       boolean NOT NULL DEFAULT true,
    widget_position    text NOT NULL DEFAULT 'right' CHECK (widget_position IN ('right', 'left')),
    open_on_load       boolean NOT NULL DEFAULT false,
    indexable          boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE visitors (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    -- SHA-256 of the token the visitor's browser holds.
    token_hash  bytea NOT NULL UNIQUE,
    -- 'share' (the share page) or 'widget' (an allowed website), and that website's origin.
    channel     text NOT NULL CHECK (channel IN ('share', 'widget')),
    site        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visitors_bot_idx ON visitors (bot_id, created_at DESC);

ALTER TABLE conversations
    ADD COLUMN visitor_id uuid REFERENCES visitors (id) ON DELETE CASCADE,
    ADD COLUMN channel    text NOT NULL DEFAULT 'owner' CHECK (channel IN ('owner', 'share', 'widget', 'api')),
    -- The page a widget conversation started on.
    ADD COLUMN page_url   text;
CREATE INDEX conversations_visitor_idx ON conversations (visitor_id, updated_at DESC);

-- Fixed-window counters: one row per key and window, incremented in the same transaction
-- that checks it. Rows past their window are purged by housekeeping.
CREATE TABLE visitor_counts (
    key        text PRIMARY KEY,
    n          integer NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX visitor_counts_expiry_idx ON visitor_counts (expires_at);

-- Keys every server process shares (the visitor-ticket signing key), made on first use.
CREATE TABLE server_keys (
    name       text PRIMARY KEY,
    secret     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
