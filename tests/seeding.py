"""Rows bulk-inserted straight into the ``images`` table: enough of them to make a scan cost."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.data.database import Database
from app.data.dialect import to_db_time

_INSERT = (
    "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
    " VALUES (:guid, :filename, :prompt, :created_at, :updated_at)"
)
_BATCH = 5_000
START = datetime(2026, 1, 1, tzinfo=UTC)
# Every prompt holds the letters a to j, so a search for those ten words matches every row.
WORDS = ["abcde", "fghij", "duck", "goose", "river", "lamp", "violin", "teapot", "storm"]


def four_words(n: int, rng: random.Random) -> str:
    """The default prompt of row ``n``: four common words after 'abcde fghij'."""
    return " ".join(["abcde", "fghij", *(rng.choice(WORDS[2:]) for _ in range(4))])


def seed_images(
    database: Database, count: int, prompt_of: Callable[[int, random.Random], str] = four_words
) -> list[str]:
    """Insert ``count`` images one second apart; returns their guids, oldest first."""
    rng = random.Random(count)
    guids: list[str] = []
    sql = database.prepare(_INSERT)
    for first in range(0, count, _BATCH):
        rows = []
        for n in range(first, min(first + _BATCH, count)):
            guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            moment = to_db_time(START + timedelta(seconds=n), database.dialect)
            rows.append(
                {
                    "guid": guid,
                    "filename": f"{guid}.png",
                    "prompt": prompt_of(n, rng),
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
            guids.append(guid)
        with database.connection() as conn:
            conn.cursor().executemany(sql, rows)
    return guids
