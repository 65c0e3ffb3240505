-- Generation as durable jobs: a job is written before any money is spent on the provider, and
-- run by whichever replica claims it. `id` becomes the image's guid on success. `owner` is the
-- non-secret id of the API key that asked (first 16 hex of its SHA-256, or `anonymous`).
-- Runners claim due jobs by (status, not_before) with SKIP LOCKED, renew their leases by
-- lease_owner, and take over jobs whose lease ran out by (status, lease_expires_at).
-- (owner, idempotency_key) is unique: an Idempotency-Key names one job; NULL keys never clash.
CREATE TABLE IF NOT EXISTS jobs (
    id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    lease_owner VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    lease_expires_at DATETIME(6) NULL,
    not_before DATETIME(6) NOT NULL,
    error TEXT NULL,
    idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    request_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_jobs_idempotency (owner, idempotency_key),
    KEY ix_jobs_due (status, not_before),
    KEY ix_jobs_lease (status, lease_expires_at),
    KEY ix_jobs_lease_owner (lease_owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
