-- Webhooks: see sql/mysql/007_webhooks.sql. Timestamps are ISO 8601 text in UTC.
ALTER TABLE jobs ADD COLUMN webhook_url TEXT NULL;
CREATE INDEX IF NOT EXISTS ix_jobs_finished ON jobs (status, updated_at);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id TEXT NOT NULL PRIMARY KEY,
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT NULL,
    payload TEXT NULL,
    last_status INTEGER NULL,
    last_error TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_webhook_deliveries_job ON webhook_deliveries (job_id);
CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
