-- The PostgreSQL schema mirrors migrations/sqlite: the same tables and
-- words, so both backends pass one storage story test. Times are Unix seconds.

-- Accounts are identified by an API token; only its SHA-256 is stored.
CREATE TABLE accounts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    plan         TEXT NOT NULL CHECK (plan IN ('free', 'paid')),
    credits      BIGINT NOT NULL DEFAULT 0,
    label        TEXT,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

-- Pages charged per subject (account or client IP) and period (day, month,
-- or 'credits' for paid accounts). A reservation is one upsert on this row.
CREATE TABLE usage (
    subject TEXT NOT NULL,
    period  TEXT NOT NULL,
    pages   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, period)
);

-- Jobs are the queue: nodes claim the oldest pending job of the highest
-- priority with FOR UPDATE SKIP LOCKED; heartbeat_at tells live work (on any
-- node) from work lost with a dead node. seq breaks ties of created_at.
CREATE TABLE jobs (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY,
    uuid           TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    account_id     BIGINT REFERENCES accounts(id),
    priority       BIGINT NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    tier           TEXT NOT NULL,
    language       TEXT NOT NULL,
    tool           TEXT,
    translate_to   TEXT,
    filename       TEXT NOT NULL,
    input_format   TEXT NOT NULL,
    upload_path    TEXT,
    page_count     BIGINT NOT NULL,
    pages_done     BIGINT NOT NULL DEFAULT 0,
    pages_failed   BIGINT NOT NULL DEFAULT 0,
    page_cost      BIGINT NOT NULL,
    charge_subject TEXT NOT NULL,
    charge_period  TEXT NOT NULL,
    refunded       BOOLEAN NOT NULL DEFAULT FALSE,
    attempts       BIGINT NOT NULL DEFAULT 0,
    worker         TEXT,
    error          TEXT,
    result         TEXT,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT,
    heartbeat_at   BIGINT
);
CREATE INDEX jobs_queue ON jobs (priority DESC, created_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_processing ON jobs (heartbeat_at) WHERE status = 'processing';
CREATE INDEX jobs_owner ON jobs (owner, status);
CREATE INDEX jobs_finished ON jobs (finished_at);

-- Finished pages of unfinished jobs: a job resumed after a crash skips them.
CREATE TABLE job_pages (
    job_uuid TEXT NOT NULL REFERENCES jobs(uuid) ON DELETE CASCADE,
    idx      BIGINT NOT NULL,
    page     TEXT,
    error    TEXT,
    PRIMARY KEY (job_uuid, idx)
);

CREATE TABLE chat_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_uuid     TEXT NOT NULL REFERENCES jobs(uuid) ON DELETE CASCADE,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    conversation TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content      TEXT NOT NULL,
    citations    TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX chat_by_job ON chat_messages (job_uuid, account_id, id);
