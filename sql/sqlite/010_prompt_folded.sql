-- Substring search in prompts (short words, stopwords, prompt_contains) compares folded text: case
-- and accents removed as MySQL's utf8mb4_unicode_ci compares. Folding each prompt while a search
-- scans ran Python once a row, holding the interpreter's lock for the whole scan and stalling every
-- other request of the process; with the folded prompt stored, the scan is SQLite's own instr(),
-- which runs without that lock. The service writes prompt_folded with each image (no trigger: a
-- writer without the service's fold, an older release or the sqlite3 shell, must still be able to
-- insert); a row without it is folded when searched. pp_fold is the service's fold, registered on
-- each of its connections.
ALTER TABLE images ADD COLUMN prompt_folded TEXT NULL;
UPDATE images SET prompt_folded = pp_fold(prompt);
