-- What each image is (media type, dimensions, size, model, quality), whose it is (owner: the
-- non-secret id of the API key that asked), and what the provider counted for it (tokens) with
-- the estimated cost in millionths of a dollar, so that usage sums exactly.
-- Rows made before this file are PNGs by construction; their media type is set from the key's
-- extension, and `python -m app backfill` reads their dimensions and sizes from the store.
ALTER TABLE images
    ADD COLUMN media_type VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'image/png',
    ADD COLUMN width INT NULL,
    ADD COLUMN height INT NULL,
    ADD COLUMN bytes BIGINT NULL,
    ADD COLUMN model VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN quality VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN owner VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD COLUMN text_input_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN image_input_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN cost_microusd BIGINT NOT NULL DEFAULT 0,
    ADD KEY ix_images_model (model, created_at, id),
    ADD KEY ix_images_media_type (media_type, created_at, id),
    ADD KEY ix_images_owner (owner, created_at);
UPDATE images SET media_type = CASE
    WHEN filename LIKE '%.jpg' OR filename LIKE '%.jpeg' THEN 'image/jpeg'
    WHEN filename LIKE '%.webp' THEN 'image/webp'
    WHEN filename LIKE '%.gif' THEN 'image/gif'
    ELSE 'image/png' END;
-- The per-key budget counts a key's jobs of the last hour.
ALTER TABLE jobs ADD KEY ix_jobs_owner_created (owner, created_at);
