"""Listing at scale: latency at 1,000 and at 1,000,000 rows in MySQL, over HTTP.

Rows are bulk-inserted straight into a scratch database (not through the API), then one client
asks the service for: the first page, a page 100,000 rows deep by cursor and by offset, one guid,
a word search and a substring search. Each figure is the median of several requests.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.data.database import open_database
from app.data.init import init_database
from app.service.cursors import CursorCodec
from tests.bench.common import Table, service
from tests.fixtures import create_scratch_database, drop_scratch_database, mysql_connect

SIZES = (1_000, 1_000_000)
BATCH = 5_000
SAMPLES = 25
DEEP = 100_000
RARE_WORD = "quokka"  # in one row of every thousand
WORDS = [
    *("red", "green", "blue", "amber", "violet", "golden", "silver", "rubber", "wooden"),
    *("happy", "duck", "goose", "cat", "dog", "fox", "owl", "whale", "robot", "castle"),
    *("garden", "river", "mountain", "city", "forest", "sink", "lamp", "chair", "boat"),
    *("train", "kite", "drum", "violin", "teapot", "moon", "star", "cloud", "storm"),
]
SECRET = "pixyproxy-listing-cursor"
# At 1,000 rows the deepest page there is stands in for the page 100,000 rows deep.
DEEP_CURSOR = f"page {DEEP:,} rows deep (940 of 1,000), by cursor"
DEEP_OFFSET = f"page {DEEP:,} rows deep (940 of 1,000), by offset"
START = datetime(2026, 1, 1, tzinfo=UTC)


def seed(database_url: str, first: int, last: int) -> None:
    """Insert rows ``first`` to ``last - 1``: one second apart, every tenth sharing a second."""
    rng = random.Random(first)
    name = database_url.rsplit("/", 1)[1]
    with mysql_connect(database_url, name) as conn:
        cursor = conn.cursor()
        for batch_start in range(first, last, BATCH):
            rows = []
            for n in range(batch_start, min(batch_start + BATCH, last)):
                guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                words = " ".join(rng.choice(WORDS) for _ in range(4))
                prompt = f"{words} {RARE_WORD}" if n % 1000 == 0 else words
                second = n - 1 if n % 10 == 9 else n  # some rows share a timestamp
                moment = (START + timedelta(seconds=second)).replace(tzinfo=None)
                rows.append((guid, f"{guid}.png", prompt, moment, moment))
            cursor.executemany(
                "INSERT INTO images (guid, filename, prompt, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
        conn.commit()


def latency_ms(client: httpx.Client, path: str, params: dict[str, str | int]) -> float:
    """Median milliseconds of a request that must answer 200."""
    for _ in range(3):
        client.get(path, params=params)  # warm caches
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.median(times)


def measure(client: httpx.Client, database_url: str) -> dict[str, float]:
    name = database_url.rsplit("/", 1)[1]
    with mysql_connect(database_url, name) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT COUNT(*) AS n FROM images")
        rows = cursor.fetchone()["n"]
        depth = min(DEEP, rows - 60)
        cursor.execute(
            "SELECT guid FROM images ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET %s",
            (depth - 1,),
        )
        deep_guid = uuid.UUID(cursor.fetchone()["guid"])
        cursor.execute("SELECT guid FROM images ORDER BY id LIMIT 1 OFFSET %s", (rows // 2,))
        some_guid = cursor.fetchone()["guid"]
    cursor_token = CursorCodec(SECRET.encode()).encode(deep_guid)
    return {
        "first page (50)": latency_ms(client, "/image/", {}),
        DEEP_CURSOR: latency_ms(client, "/image/", {"cursor": cursor_token}),
        DEEP_OFFSET: latency_ms(client, "/image/", {"offset": depth}),
        # The service caches details after the first read: the filter below measures the index.
        "guid lookup (GET /image/{guid}, cached)": latency_ms(client, f"/image/{some_guid}", {}),
        "guid lookup in the database (GET /image?guid=)": latency_ms(
            client, "/image/", {"guid": some_guid}
        ),
        f"word search prompt={RARE_WORD} (FULLTEXT)": latency_ms(
            client, "/image/", {"prompt": RARE_WORD}
        ),
        f"substring prompt_contains={RARE_WORD} (scan)": latency_ms(
            client, "/image/", {"prompt_contains": RARE_WORD}
        ),
    }


def run() -> None:
    """Print the listing table."""
    database_url = create_scratch_database()
    try:
        db = open_database(database_url, pool_size=1)
        init_database(db)
        db.close()
        results: list[dict[str, float]] = []
        seeded = 0
        with (
            tempfile.TemporaryDirectory() as tmp,
            service(Path(tmp), PIXY_DATABASE_URL=database_url, PIXY_CURSOR_SECRET=SECRET) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as client,
        ):
            for size in SIZES:
                started = time.perf_counter()
                seed(database_url, seeded, size)
                print(f"seeded {size:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
                seeded = size
                results.append(measure(client, database_url))
        table = Table(
            f"Listing on MySQL (median of {SAMPLES} requests, one client, over HTTP)",
            ["scenario", "1,000 rows", "1,000,000 rows", "growth", "aim"],
        )
        aims = {"first page": "<= 1.5x", "by cursor": "<= 1.5x", "guid lookup": "<= 1.5x"}
        small, large = results
        for (name, at_small), at_large in zip(small.items(), large.values(), strict=True):
            aim = next((a for key, a in aims.items() if key in name), "reported")
            table.add(
                name, f"{at_small:.1f} ms", f"{at_large:.1f} ms", f"{at_large / at_small:.2f}x", aim
            )
        table.publish()
    finally:
        drop_scratch_database(database_url)
