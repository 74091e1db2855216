-- Knowledge: documents, their kept originals, their chunks, and the durable ingestion queue.

CREATE TABLE documents (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    bot_id       uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    name         text NOT NULL,
    source       text NOT NULL CHECK (source IN ('upload', 'url', 'text', 'qa')),
    mime         text NOT NULL,
    size_bytes   bigint NOT NULL,
    -- SHA-256 of the original bytes: the same content twice in one bot is one document.
    content_hash bytea NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'extracting', 'chunking', 'embedding', 'indexing', 'ready', 'failed')),
    progress     real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    error        text,
    enabled      boolean NOT NULL DEFAULT true,
    char_count   integer,
    page_count   integer,
    chunk_count  integer NOT NULL DEFAULT 0,
    -- Milliseconds spent per stage, e.g. {"extracting": 12, "chunking": 3}.
    stage_ms     jsonb NOT NULL DEFAULT '{}',
    -- The chunk set searches use. A run writes generation + 1 beside it and swaps in one
    -- transaction, so the old set stays searchable until the new one is complete.
    generation   integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bot_id, content_hash)
);
CREATE INDEX documents_bot_idx ON documents (bot_id, created_at DESC);

-- The bytes as uploaded, kept so a document can be processed again later.
CREATE TABLE document_originals (
    document_id uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    bytes       bytea NOT NULL
);

CREATE TABLE chunks (
    id           bigserial PRIMARY KEY,
    document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    bot_id       uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    generation   integer NOT NULL,
    ordinal      integer NOT NULL,
    heading_path text NOT NULL DEFAULT '',
    page         integer,
    token_count  integer NOT NULL,
    text         text NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (to_tsvector('english', heading_path || ' ' || text)) STORED,
    UNIQUE (document_id, generation, ordinal)
);
CREATE INDEX chunks_bot_idx ON chunks (bot_id);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);

-- One row per piece of work. Workers claim with FOR UPDATE SKIP LOCKED and hold a lease they
-- renew while working; a lease that runs out (the worker died) puts the job back.
CREATE TABLE ingestion_jobs (
    id           bigserial PRIMARY KEY,
    document_id  uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    run_after    timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz,
    worker       text,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingestion_jobs_pending_idx ON ingestion_jobs (run_after) WHERE state = 'pending';
CREATE INDEX ingestion_jobs_running_idx ON ingestion_jobs (lease_until) WHERE state = 'running';
CREATE UNIQUE INDEX ingestion_jobs_one_open_per_document ON ingestion_jobs (document_id) WHERE state IN ('pending', 'running');
