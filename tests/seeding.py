"""Rows bulk-inserted straight into the ``images`` table: enough of them to make a scan cost."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.data.database import Database
from app.data.dialect import fold, to_db_time

_INSERT = {
    "mysql": "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :created_at, :updated_at)",
    # As the service writes SQLite rows: with the folded prompt its substring searches scan.
    "sqlite": "INSERT INTO images (guid, filename, prompt, prompt_folded, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :prompt_folded, :created_at, :updated_at)",
}
# Every image the service makes has its usage row (else its usage catch-up writes them at start).
_USAGE = "INSERT INTO usage_records (guid, created_at) VALUES (:guid, :created_at)"
_BATCH = 10_000
START = datetime(2026, 1, 1, tzinfo=UTC)
# Every prompt holds the letters a to j, so a search for those ten words matches every row.
WORDS = ["abcde", "fghij", "duck", "goose", "river", "lamp", "violin", "teapot", "storm"]


def four_words(n: int, rng: random.Random) -> str:
    """The default prompt of row ``n``: four common words after 'abcde fghij'."""
    return " ".join(["abcde", "fghij", *(rng.choice(WORDS[2:]) for _ in range(4))])


def seed_images(
    database: Database,
    count: int,
    prompt_of: Callable[[int, random.Random], str] = four_words,
    *,
    first: int = 0,
) -> list[str]:
    """Insert images ``first`` to ``count - 1`` one second apart, each with its usage row as the
    service writes them; return their guids, oldest first.

    A table already holding the first ``first`` rows can so be grown to ``count``. One connection
    does it all: on SQLite one transaction (one commit, not one per batch); on MySQL each batch
    commits on its own (autocommit), so the FULLTEXT index's cache is flushed as it goes.
    """
    rng = random.Random(count if first == 0 else f"rows {first} to {count}")
    guids: list[str] = []
    sql = database.prepare(_INSERT[database.dialect])
    usage = database.prepare(_USAGE)
    with database.connection() as conn:
        cursor = conn.cursor()
        for batch_start in range(first, count, _BATCH):
            rows = []
            for n in range(batch_start, min(batch_start + _BATCH, count)):
                guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                moment = to_db_time(START + timedelta(seconds=n), database.dialect)
                prompt = prompt_of(n, rng)
                rows.append(
                    {
                        "guid": guid,
                        "filename": f"{guid}.png",
                        "prompt": prompt,
                        "created_at": moment,
                        "updated_at": moment,
                    }
                    | ({"prompt_folded": fold(prompt)} if database.dialect == "sqlite" else {})
                )
                guids.append(guid)
            # pymysql sends an INSERT ... VALUES executemany as multi-row INSERTs.
            cursor.executemany(sql, rows)
            cursor.executemany(usage, [{k: row[k] for k in ("guid", "created_at")} for row in rows])
    return guids
