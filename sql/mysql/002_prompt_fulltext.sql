-- Word search in prompts (GET /image?prompt=...) uses this FULLTEXT index instead of scanning
-- every row; InnoDB keeps it up to date on insert.
ALTER TABLE images ADD FULLTEXT INDEX ft_images_prompt (prompt);
