-- Renditions of an image: see sql/mysql/006_renditions.sql.
CREATE TABLE IF NOT EXISTS renditions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_guid TEXT NOT NULL,
    name TEXT NOT NULL,
    object_key TEXT NOT NULL,
    media_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_renditions_image_name ON renditions (image_guid, name);
CREATE UNIQUE INDEX IF NOT EXISTS uq_renditions_key ON renditions (object_key);
