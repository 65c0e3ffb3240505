-- Substring search in prompts (short words, stopwords, prompt_contains) compares folded text: case
-- and accents removed as MySQL's utf8mb4_unicode_ci compares. Folding each prompt while a search
-- scans ran Python once a row, holding the interpreter's lock for the whole scan and stalling every
-- other request of the process; with the folded prompt stored, the scan is SQLite's own instr(),
-- which runs without that lock. pp_fold is the service's fold, registered on each of its connections
-- (a tool inserting images without it is refused rather than leaving rows unsearchable).
ALTER TABLE images ADD COLUMN prompt_folded TEXT NULL;
UPDATE images SET prompt_folded = pp_fold(prompt);
CREATE TRIGGER IF NOT EXISTS images_prompt_folded_after_insert AFTER INSERT ON images BEGIN
    UPDATE images SET prompt_folded = pp_fold(new.prompt) WHERE id = new.id;
END;
CREATE TRIGGER IF NOT EXISTS images_prompt_folded_after_update AFTER UPDATE OF prompt ON images BEGIN
    UPDATE images SET prompt_folded = pp_fold(new.prompt) WHERE id = new.id;
END;
