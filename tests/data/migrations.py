"""A database as an older release left it: only the migrations before a given one applied."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.data.database import Database
from app.data.init import init_database, migration_files


def init_database_before(database: Database, version: str, scratch: Path) -> None:
    """Apply the migrations numbered below ``version`` (``"005"``), copied into ``scratch``."""
    older = scratch / "sql-before" / database.dialect
    older.mkdir(parents=True)
    for path in migration_files(database.dialect):
        if path.name < version:
            shutil.copy(path, older / path.name)
    init_database(database, root=scratch / "sql-before")
