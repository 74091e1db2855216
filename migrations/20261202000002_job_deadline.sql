-- When a job's current attempt started, so that a job running past its deadline stops being
-- renewed and is taken back (its attempt counted).
ALTER TABLE ingestion_jobs ADD COLUMN started_at timestamptz;
