-- Renditions of an image (width variants, other formats), made on first request and kept in the
-- same store as the original under a key derived from the original's (app/core/renditions.py).
-- (image_guid, name) is unique: replicas making one rendition at once write one row; the
-- object_key is unique too, so reconcile can tell every stored rendition from an orphan.
-- No foreign key: images are never deleted through PixyProxy, and a rendition row is only
-- written after its image's row.
CREATE TABLE IF NOT EXISTS renditions (
    id BIGINT NOT NULL AUTO_INCREMENT,
    image_guid CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    object_key VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    media_type VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    width INT NOT NULL,
    height INT NOT NULL,
    bytes BIGINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_renditions_image_name (image_guid, name),
    UNIQUE KEY uq_renditions_key (object_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
