-- Uploads and result PDFs when blob_store = "database": a blob is its row in
-- `blobs` plus its chunks (1 MiB each), written in one transaction.
CREATE TABLE blobs (
    kind       TEXT NOT NULL CHECK (kind IN ('upload', 'result_pdf')),
    key        TEXT NOT NULL,
    chunks     INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE blob_chunks (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (kind, key, seq),
    FOREIGN KEY (kind, key) REFERENCES blobs (kind, key) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
