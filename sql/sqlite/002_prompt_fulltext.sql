-- Word search in prompts (GET /image?prompt=...): an FTS5 index over images.prompt, kept in step
-- by triggers. unicode61 with diacritics removed folds case and accents as MySQL's
-- utf8mb4_unicode_ci FULLTEXT index does.
CREATE VIRTUAL TABLE IF NOT EXISTS images_fts USING fts5(
    prompt, content='images', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS images_fts_after_insert AFTER INSERT ON images BEGIN
    INSERT INTO images_fts (rowid, prompt) VALUES (new.id, new.prompt);
END;
CREATE TRIGGER IF NOT EXISTS images_fts_after_delete AFTER DELETE ON images BEGIN
    INSERT INTO images_fts (images_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
END;
CREATE TRIGGER IF NOT EXISTS images_fts_after_update AFTER UPDATE OF prompt ON images BEGIN
    INSERT INTO images_fts (images_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt);
    INSERT INTO images_fts (rowid, prompt) VALUES (new.id, new.prompt);
END;
INSERT INTO images_fts (images_fts) VALUES ('rebuild');
