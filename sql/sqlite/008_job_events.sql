-- Live progress: see sql/mysql/008_job_events.sql.
ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN status_revision INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS job_partials (
    job_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    object_key TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);
