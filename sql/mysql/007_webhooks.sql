-- Webhooks (docs/ARCHITECTURE.md, "Webhooks"): a job may name a URL that gets it once finished.
-- ix_jobs_finished lets each replica's dispatcher find recently finished jobs without a scan.
ALTER TABLE jobs
    ADD COLUMN webhook_url VARCHAR(2048) NULL,
    ADD KEY ix_jobs_finished (status, updated_at);
-- The outbox: one delivery per job (job_id is unique, so replicas that enqueue the same job at
-- once make one row). `id` is the Standard Webhooks message id, the same on every attempt.
-- A claim moves next_attempt_at one lease ahead, so a delivery whose replica died is due again
-- then; `payload` keeps the first attempt's body so that every retry sends the same bytes.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    url VARCHAR(2048) NOT NULL,
    status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL,
    lease_owner VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    payload TEXT NULL,
    last_status INT NULL,
    last_error VARCHAR(255) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_webhook_deliveries_job (job_id),
    KEY ix_webhook_deliveries_due (status, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
