-- Deleting images (DELETE /image/{guid}, the retention sweep), see docs/ARCHITECTURE.md "Deletion".
-- `deleted_objects` is an outbox: the transaction that deletes an image's row (and its
-- renditions and partials rows) records here every object key to remove, and the CloudFront
-- paths to invalidate (kind 'cdn'); the objects are removed after the commit and their rows
-- cleared, and a sweep on every replica retries what a failing store or CDN left. So a crash or
-- an outage half way never leaves an object that no row names.
-- `deletions` is a log of deleted guids that every replica polls to evict them from its
-- in-process caches (PIXY_CACHE_STALENESS_SECONDS); old rows are pruned.
-- `maintenance_leases` lets one replica at a time run a sweep (the retention sweep).
CREATE TABLE IF NOT EXISTS deleted_objects (
    id BIGINT NOT NULL AUTO_INCREMENT,
    kind VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    target VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    due_at DATETIME(6) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_deleted_objects_due (due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS deletions (
    id BIGINT NOT NULL AUTO_INCREMENT,
    guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    deleted_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_deletions_deleted_at (deleted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS maintenance_leases (
    name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    owner VARCHAR(128) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
