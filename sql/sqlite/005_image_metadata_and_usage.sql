-- What each image is, whose it is and what it cost: see sql/mysql/005_image_metadata_and_usage.sql.
ALTER TABLE images ADD COLUMN media_type TEXT NOT NULL DEFAULT 'image/png';
ALTER TABLE images ADD COLUMN width INTEGER NULL;
ALTER TABLE images ADD COLUMN height INTEGER NULL;
ALTER TABLE images ADD COLUMN bytes INTEGER NULL;
ALTER TABLE images ADD COLUMN model TEXT NULL;
ALTER TABLE images ADD COLUMN quality TEXT NULL;
ALTER TABLE images ADD COLUMN owner TEXT NULL;
ALTER TABLE images ADD COLUMN text_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN image_input_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE images ADD COLUMN cost_microusd INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS ix_images_model ON images (model, created_at, id);
CREATE INDEX IF NOT EXISTS ix_images_media_type ON images (media_type, created_at, id);
CREATE INDEX IF NOT EXISTS ix_images_owner ON images (owner, created_at);
UPDATE images SET media_type = CASE
    WHEN filename LIKE '%.jpg' OR filename LIKE '%.jpeg' THEN 'image/jpeg'
    WHEN filename LIKE '%.webp' THEN 'image/webp'
    WHEN filename LIKE '%.gif' THEN 'image/gif'
    ELSE 'image/png' END;
CREATE INDEX IF NOT EXISTS ix_jobs_owner_created ON jobs (owner, created_at);
