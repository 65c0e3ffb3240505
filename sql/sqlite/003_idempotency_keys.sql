-- Idempotency-Key on POST /image: see sql/mysql/003_idempotency_keys.sql.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    image_guid TEXT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX IF NOT EXISTS ix_idempotency_expires ON idempotency_keys (expires_at);
