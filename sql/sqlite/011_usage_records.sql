-- What each generated image cost, kept when the image is deleted: see
-- sql/mysql/011_usage_records.sql.
CREATE TABLE IF NOT EXISTS usage_records (
    guid TEXT NOT NULL PRIMARY KEY,
    owner TEXT NULL,
    model TEXT NULL,
    created_at TEXT NOT NULL,
    text_input_tokens INTEGER NOT NULL DEFAULT 0,
    image_input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_microusd INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_usage_records_owner ON usage_records (owner, created_at);
CREATE INDEX IF NOT EXISTS ix_usage_records_created ON usage_records (created_at);
