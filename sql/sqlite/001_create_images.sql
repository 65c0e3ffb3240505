-- The seed schema for the embedded SQLite default; same columns and indexes as sql/mysql/.
-- Timestamps are ISO 8601 text in UTC with microseconds, which sorts in time order.
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    guid TEXT NOT NULL,
    filename TEXT NOT NULL,
    prompt TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_images_guid ON images (guid);
CREATE UNIQUE INDEX IF NOT EXISTS uq_images_filename ON images (filename);
CREATE INDEX IF NOT EXISTS ix_images_created ON images (created_at, id);
