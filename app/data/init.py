"""Applies the numbered SQL files in ``sql/<dialect>/`` once each, safely from many replicas.

Each file is applied under a lock (MySQL's ``GET_LOCK``, SQLite's write lock) and recorded in
``schema_migrations``, so running init on every start, or from several replicas at once, applies
each file exactly once. A file's statements run in one transaction where the database allows
(SQLite; MySQL commits each DDL statement): most also tolerate being run again, but not all
(``ALTER TABLE ... ADD COLUMN``), so a file that stopped half-way on MySQL is mended by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog

from app.core.exceptions import DatabaseUnavailable
from app.data.database import Database

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
_LOCK_NAME = "pixyproxy_schema"
_LOCK_WAIT_SECONDS = 60

_MIGRATIONS_TABLE = {
    "mysql": (
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version VARCHAR(255) NOT NULL PRIMARY KEY,"
        " applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
    ),
    "sqlite": (
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version TEXT NOT NULL PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')))"
    ),
}

log = structlog.get_logger(__name__)


def migration_files(dialect: str, root: Path = SQL_ROOT) -> list[Path]:
    """The SQL files of a dialect, in the order of their number."""
    return sorted((root / dialect).glob("[0-9]*.sql"))


def split_statements(script: str) -> list[str]:
    """Split a schema file into statements at semicolons that end a line.

    A trigger's ``BEGIN ... END;`` body is one statement, semicolons inside it included.
    """
    statements: list[str] = []
    current: list[str] = []
    in_body = False
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        if stripped.upper().endswith("BEGIN"):
            in_body = True
        if stripped.endswith(";") and (not in_body or stripped.upper() == "END;"):
            in_body = False
            statements.append("\n".join(current).strip().removesuffix(";").strip())
            current = []
    if current:
        statements.append("\n".join(current).strip())
    return statements


def init_database(db: Database, root: Path = SQL_ROOT) -> list[str]:
    """Apply every migration not yet applied; return the versions applied by this call."""
    with db.connection() as conn:
        cursor = conn.cursor()
        _lock(db, cursor)
        try:
            return _apply_pending(db, cursor, migration_files(db.dialect, root))
        finally:
            _unlock(db, cursor)


def _apply_pending(db: Database, cursor: Any, files: list[Path]) -> list[str]:
    cursor.execute(_MIGRATIONS_TABLE[db.dialect])
    cursor.execute("SELECT version FROM schema_migrations")
    done = {row["version"] for row in cursor.fetchall()}
    applied = []
    for path in files:
        if path.name in done:
            continue
        for statement in split_statements(path.read_text(encoding="utf-8")):
            cursor.execute(statement)
        cursor.execute(
            db.prepare("INSERT INTO schema_migrations (version) VALUES (:version)"),
            {"version": path.name},
        )
        applied.append(path.name)
        log.info("schema_migration_applied", version=path.name)
    return applied


def _lock(db: Database, cursor: Any) -> None:
    if db.dialect == "sqlite":
        cursor.execute("BEGIN IMMEDIATE")  # the write lock, held until the commit
        return
    cursor.execute(
        db.prepare("SELECT GET_LOCK(:name, :wait) AS locked"),
        {"name": _LOCK_NAME, "wait": _LOCK_WAIT_SECONDS},
    )
    if cursor.fetchone()["locked"] != 1:
        raise DatabaseUnavailable("another replica held the schema lock for too long")


def _unlock(db: Database, cursor: Any) -> None:
    if db.dialect == "mysql":
        cursor.execute(db.prepare("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
        cursor.fetchall()
