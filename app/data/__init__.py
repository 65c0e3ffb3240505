"""Persistence: the SQL database (MySQL or SQLite) and the blob stores (S3 or a local folder)."""
