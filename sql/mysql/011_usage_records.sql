-- What each generated image cost, kept when the image is deleted: GET /usage sums these rows, so
-- spend at the provider stays in the report after a DELETE or retention removes the image.
-- guid is the image's (and its job's); written with the image, in the same transaction. Images
-- written before this file (or by an older release during a rolling upgrade) get theirs from
-- the service, in batches read without locks (app/service/usage_catch_up.py): an INSERT ...
-- SELECT here would lock every images row while runners insert theirs.
CREATE TABLE IF NOT EXISTS usage_records (
    guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    owner VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    model VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    text_input_tokens BIGINT NOT NULL DEFAULT 0,
    image_input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_microusd BIGINT NOT NULL DEFAULT 0,
    KEY ix_usage_records_owner (owner, created_at),
    KEY ix_usage_records_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
