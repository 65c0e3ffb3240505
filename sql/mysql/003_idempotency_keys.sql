-- Idempotency-Key on POST /image: one row per (caller, key), claimed before generating, holding
-- the created image's guid once done. In the database so that every replica sees the same keys.
-- scope is a SHA-256 of the caller's API key (never the key itself).
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    image_guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (scope, idempotency_key),
    KEY ix_idempotency_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
