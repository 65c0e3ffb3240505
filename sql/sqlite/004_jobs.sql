-- Generation as durable jobs: see sql/mysql/004_jobs.sql. Timestamps are ISO 8601 text in UTC.
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT NULL,
    lease_expires_at TEXT NULL,
    not_before TEXT NOT NULL,
    error TEXT NULL,
    idempotency_key TEXT NULL,
    request_hash TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_jobs_idempotency ON jobs (owner, idempotency_key);
CREATE INDEX IF NOT EXISTS ix_jobs_due ON jobs (status, not_before);
CREATE INDEX IF NOT EXISTS ix_jobs_lease ON jobs (status, lease_expires_at);
CREATE INDEX IF NOT EXISTS ix_jobs_lease_owner ON jobs (lease_owner);
