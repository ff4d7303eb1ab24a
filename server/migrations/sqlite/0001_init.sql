-- Accounts are identified by an API token; only its SHA-256 is stored.
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    plan         TEXT NOT NULL CHECK (plan IN ('free', 'paid')),
    credits      INTEGER NOT NULL DEFAULT 0,
    label        TEXT,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

-- Pages charged per subject (account or client IP) and period (day, month,
-- or 'credits' for paid accounts).
CREATE TABLE usage (
    subject TEXT NOT NULL,
    period  TEXT NOT NULL,
    pages   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, period)
);

-- Jobs are the queue: workers claim the oldest pending job of the highest
-- priority atomically; heartbeat_at tells live work from work lost in a crash.
CREATE TABLE jobs (
    uuid           TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    account_id     INTEGER REFERENCES accounts(id),
    priority       INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    tier           TEXT NOT NULL,
    language       TEXT NOT NULL,
    tool           TEXT,
    translate_to   TEXT,
    filename       TEXT NOT NULL,
    input_format   TEXT NOT NULL,
    upload_path    TEXT,
    page_count     INTEGER NOT NULL,
    pages_done     INTEGER NOT NULL DEFAULT 0,
    pages_failed   INTEGER NOT NULL DEFAULT 0,
    page_cost      INTEGER NOT NULL,
    charge_subject TEXT NOT NULL,
    charge_period  TEXT NOT NULL,
    refunded       INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    worker         TEXT,
    error          TEXT,
    result         TEXT,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    heartbeat_at   INTEGER
);
CREATE INDEX jobs_queue ON jobs (status, priority DESC, created_at);
CREATE INDEX jobs_owner ON jobs (owner, status);
CREATE INDEX jobs_finished ON jobs (finished_at);

-- Finished pages of unfinished jobs: a job resumed after a crash skips them.
CREATE TABLE job_pages (
    job_uuid TEXT NOT NULL REFERENCES jobs(uuid) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    page     TEXT,
    error    TEXT,
    PRIMARY KEY (job_uuid, idx)
);

CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_uuid     TEXT NOT NULL REFERENCES jobs(uuid) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id),
    conversation TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content      TEXT NOT NULL,
    citations    TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX chat_by_job ON chat_messages (job_uuid, account_id, id);
