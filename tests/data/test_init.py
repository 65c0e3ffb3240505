"""Schema initialisation: idempotent, and safe from several replicas at once."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.data import database as database_module
from app.data.database import Database, open_database
from app.data.init import SQL_ROOT, init_database, migration_files, split_statements


def test_every_dialect_has_the_same_numbered_files() -> None:
    mysql = [p.name for p in migration_files("mysql")]
    sqlite = [p.name for p in migration_files("sqlite")]
    assert mysql == sqlite
    assert mysql and mysql[0].startswith("001_")


def test_split_statements_skips_comments() -> None:
    script = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\n\nCREATE INDEX i ON a (x);\n"
    assert split_statements(script) == ["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]


def test_init_creates_images_table_and_indexes(database: Database) -> None:
    assert init_database(database) == [p.name for p in migration_files(database.dialect)]
    if database.dialect == "mysql":
        rows = database.fetch_all("SHOW INDEX FROM images")
        indexes = {(r["Key_name"], r["Column_name"], r["Non_unique"]) for r in rows}
        assert ("uq_images_guid", "guid", 0) in indexes
        assert ("ix_images_created", "created_at", 1) in indexes
        table = database.fetch_all("SHOW TABLE STATUS LIKE 'images'")[0]
        assert table["Engine"] == "InnoDB"
        assert table["Collation"].startswith("utf8mb4")
    else:
        rows = database.fetch_all("SELECT name FROM sqlite_master WHERE type = 'index'")
        assert {"uq_images_guid", "ix_images_created"} <= {r["name"] for r in rows}
    with database.connection() as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT * FROM images WHERE 1 = 0")
        columns = [column[0] for column in cursor.description]
    # The seed's columns, as the seed had them, then what later files added.
    assert columns[:6] == ["id", "guid", "filename", "prompt", "created_at", "updated_at"]
    assert columns[6:] == [
        *("media_type", "width", "height", "bytes", "model", "quality", "owner"),
        *("text_input_tokens", "image_input_tokens", "output_tokens", "cost_microusd"),
        # SQLite only: the folded prompt its substring searches scan (010).
        *(["prompt_folded"] if database.dialect == "sqlite" else []),
    ]


def test_init_twice_applies_nothing_the_second_time(database: Database) -> None:
    first = init_database(database)
    assert first
    assert init_database(database) == []
    versions = database.fetch_all("SELECT version FROM schema_migrations")
    assert sorted(r["version"] for r in versions) == sorted(first)


def test_init_from_concurrent_replicas_applies_each_file_once(database_url: str) -> None:
    pools = [open_database(database_url, pool_size=1) for _ in range(4)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(pools))

    def start_replica(db: Database) -> None:
        barrier.wait()
        try:
            results.append(init_database(db))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start_replica, args=(db,)) for db in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in pools:
        db.close()
    assert errors == []
    applied = [version for result in results for version in result]
    assert sorted(applied) == sorted(p.name for p in migration_files(pools[0].dialect))


def test_a_replica_waits_for_another_switching_the_new_sqlite_file_to_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite fails a switch to WAL at once, busy timeout or not, while another connection holds
    the new file's write lock (as a replica starting at the same moment does): the connection
    must wait for it. The pause between tries is where the other replica gets to finish."""
    path = tmp_path / "pixy.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def let_the_other_replica_finish(seconds: float) -> None:
        pauses.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(
        database_module,
        "time",
        SimpleNamespace(monotonic=time.monotonic, sleep=let_the_other_replica_finish),
    )
    db = open_database(f"sqlite:///{path}", pool_size=1)
    try:
        assert init_database(db) == [p.name for p in migration_files("sqlite")]
        assert db.fetch_all("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
    finally:
        db.close()
        other.close()
    assert pauses, "the first switch should have met the other replica's write lock"


def test_a_new_numbered_file_is_applied_on_the_next_start(
    database: Database, tmp_path: Path
) -> None:
    root = tmp_path / "sql"
    (root / database.dialect).mkdir(parents=True)
    for path in migration_files(database.dialect, SQL_ROOT):
        (root / database.dialect / path.name).write_text(path.read_text())
    init_database(database, root)
    (root / database.dialect / "002_notes.sql").write_text(
        "-- a later change\nCREATE TABLE notes (id INTEGER PRIMARY KEY);\n"
    )
    assert init_database(database, root) == ["002_notes.sql"]
    database.execute("INSERT INTO notes (id) VALUES (:id)", {"id": 1})


def test_split_statements_keeps_trigger_bodies_whole() -> None:
    script = (
        "CREATE TABLE a (x INT);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "    INSERT INTO b VALUES (1);\n"
        "    INSERT INTO b VALUES (2);\n"
        "END;\n"
        "INSERT INTO a VALUES (3);"
    )
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END")
    assert statements[2] == "INSERT INTO a VALUES (3)"
