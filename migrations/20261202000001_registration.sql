-- Registration modes and operator recovery: invitation links, and accounts the operator can
-- disable (a disabled account cannot sign in and has no sessions).

ALTER TABLE users ADD COLUMN disabled_at timestamptz;

CREATE TABLE invitations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- SHA-256 of the token in the link; the token itself is never stored.
    token_hash  bytea NOT NULL UNIQUE,
    -- NULL when the operator made it from the command line.
    created_by  uuid REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    used_at     timestamptz
);
CREATE INDEX invitations_created_by_idx ON invitations (created_by);
