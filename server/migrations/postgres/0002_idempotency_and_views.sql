-- A retried submission (same caller, same Idempotency-Key) finds its job
-- instead of creating and charging a second one. NULL keys never conflict.
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key);
-- The finished job's API JSON, rendered once (polls send it as stored, with
-- its ETag) instead of re-rendering megabytes per poll.
ALTER TABLE jobs ADD COLUMN view TEXT;
ALTER TABLE jobs ADD COLUMN view_etag TEXT;
-- The caller's jobs, newest first (GET /api/v1/ocr/).
CREATE INDEX jobs_listing ON jobs (owner, created_at DESC, uuid DESC);
