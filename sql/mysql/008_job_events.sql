-- Live progress (GET /jobs/{id}/events): every visible change of a job bumps its `revision`,
-- which is the id of the event that tells it; `status_revision` is the revision of the last
-- status change. Partial renders (streamed by the provider) are stored as objects and listed in
-- `job_partials` with the revision of their event, so a stream resumed with Last-Event-ID on
-- any replica gets exactly the events after it.
ALTER TABLE jobs
    ADD COLUMN revision INT NOT NULL DEFAULT 1,
    ADD COLUMN status_revision INT NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS job_partials (
    job_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idx INT NOT NULL,
    revision INT NOT NULL,
    object_key VARCHAR(255) NOT NULL,
    media_type VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (job_id, idx)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
