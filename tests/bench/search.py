"""The costliest search a client may ask for, at 50,000 and 1,000,000 rows on SQLite and MySQL.

The search: ``SEARCH_MAX_WORDS`` words too short for the full-text index, which every prompt
holds (so each row is tested against all of them), counted, and paged almost to the end. First
alone; then ``ATTACKERS`` clients send it back to back for ``SECONDS`` seconds, each request at
another offset (identical listings in flight share one read), while one client reads images by
guid (each guid once, so every read reaches the database) and another asks ``/readyz``. What
must hold: every search answers in bounded time (200, or a 503/504 problem), and reads beside
them stay fast. Each database is seeded once through the service's own schema (so SQLite's FTS5
table and MySQL's FULLTEXT index are kept as the service keeps them), measured at 50,000 rows,
then grown to 1,000,000 and measured again, each time by a newly started service.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from app.core.models import SEARCH_MAX_WORDS
from app.data.database import open_database
from app.data.init import init_database
from tests.bench.common import Table, service
from tests.fixtures import create_scratch_database, drop_scratch_database
from tests.seeding import seed_images

SIZES = (50_000, 1_000_000)
ATTACKERS = 10
SECONDS = 10.0
ALONE = 5


def search(rows: int, offset: int) -> dict[str, str]:
    """The costliest search at ``offset`` of a table of ``rows``."""
    return {
        "prompt": " ".join("abcdefghij"[:SEARCH_MAX_WORDS]),
        "count": "true",
        "limit": "500",
        "offset": str(max(0, rows - 500 - offset)),
    }


# Every seeded prompt holds this word, which the full-text index keeps (long enough, no stopword).
_INDEXED_COUNT = {
    "sqlite": "SELECT COUNT(*) AS n FROM images_fts WHERE images_fts MATCH 'abcde'",
    "mysql": "SELECT COUNT(*) AS n FROM images"
    " WHERE MATCH(prompt) AGAINST('+abcde' IN BOOLEAN MODE)",
}


class SeededDatabase:
    """A database with the service's schema, grown by bulk inserts to the size asked for."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.url = (
            f"sqlite:///{workdir / 'search.db'}" if kind == "SQLite" else create_scratch_database()
        )
        self.guids: list[str] = []
        database = open_database(self.url, pool_size=1)
        try:
            init_database(database)
        finally:
            database.close()

    def grow_to(self, rows: int) -> None:
        """Insert rows until the table holds ``rows``; check that the full-text index has them."""
        database = open_database(self.url, pool_size=1)
        try:
            started = time.perf_counter()
            self.guids += seed_images(database, rows, first=len(self.guids))
            seeded = time.perf_counter() - started
            with database.connection() as conn:
                cursor = conn.cursor()
                cursor.execute(_INDEXED_COUNT[database.dialect])
                indexed = cursor.fetchone()["n"]
        finally:
            database.close()
        print(f"{self.kind}: {rows:,} rows after {seeded:.0f} s of seeding", flush=True)
        assert indexed == rows, f"the full-text index holds {indexed:,} of {rows:,} rows"

    def drop(self) -> None:
        if self.kind != "SQLite":
            drop_scratch_database(self.url)


def timed_ms(request: Callable[[], httpx.Response]) -> tuple[float, int]:
    """Milliseconds a request took, and its status."""
    started = time.perf_counter()
    status = request().status_code
    return (time.perf_counter() - started) * 1000, status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def guid_reads(client: httpx.Client, guids: Iterator[str], until: float) -> list[float]:
    """Latencies of reads by guid, each guid new to the service, until ``until``."""
    times = []
    while time.perf_counter() < until:
        elapsed, status = timed_ms(lambda: client.get(f"/image/{next(guids)}"))
        assert status == 200, status
        times.append(elapsed)
    return times


@dataclass
class Attack:
    """What happened while the searches ran."""

    searches: list[tuple[float, int]] = field(default_factory=list)
    reads: list[float] = field(default_factory=list)
    ready: Counter[int] = field(default_factory=Counter)


def attack(base_url: str, rows: int, guids: Iterator[str]) -> Attack:
    """Searches from ``ATTACKERS`` clients for ``SECONDS``, reads and readiness beside them."""
    until = time.perf_counter() + SECONDS
    seen = Attack()
    lock = threading.Lock()

    def attacker(number: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            while time.perf_counter() < until:
                # Each a little different: identical listings in flight share one read.
                params = search(rows, number * 1000 + len(seen.searches))
                result = timed_ms(partial(client.get, "/image/", params=params))
                with lock:
                    seen.searches.append(result)

    def readiness() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            while time.perf_counter() < until:
                seen.ready[client.get("/readyz").status_code] += 1
                time.sleep(0.2)

    with ThreadPoolExecutor(ATTACKERS + 2) as pool:
        futures = [pool.submit(attacker, number) for number in range(ATTACKERS)]
        futures.append(pool.submit(readiness))
        with httpx.Client(base_url=base_url, timeout=120) as client:
            seen.reads = guid_reads(client, guids, until)
        for future in futures:
            future.result()
    return seen


def measure(database: SeededDatabase, rows: int, workdir: Path) -> list[str]:
    """One row of the table: ``database`` grown to ``rows``, served by a new service."""
    database.grow_to(rows)
    # Guids the service has not read yet (its cache starts empty; the database's may be warm).
    unread = iter(database.guids[::-1])
    with (
        service(workdir / f"server-{rows}", PIXY_DATABASE_URL=database.url) as server,
        httpx.Client(base_url=server.base_url, timeout=120) as client,
    ):
        costliest = search(rows, 0)
        alone = [timed_ms(lambda: client.get("/image/", params=costliest)) for _ in range(ALONE)]
        quiet = guid_reads(client, unread, time.perf_counter() + 2)
        beside = attack(server.base_url, rows, unread)
    reads = beside.reads
    statuses = dict(Counter(status for _, status in beside.searches))
    return [
        database.kind,
        f"{rows:,}",
        f"{statistics.median(t for t, _ in alone):.0f} ms {dict(Counter(s for _, s in alone))}",
        f"{statistics.median(quiet):.1f} / {percentile(quiet, 0.99):.1f} ms",
        f"{statuses}, max {max(t for t, _ in beside.searches):.0f} ms",
        f"{statistics.median(reads):.1f} / {percentile(reads, 0.99):.1f} / {max(reads):.0f} ms"
        f" ({len(reads)} reads)",
        str(dict(beside.ready)),
    ]


def run() -> None:
    """Print the search table."""
    table = Table(
        f"Costliest search: {SEARCH_MAX_WORDS} scanned words, count, the last page of 500 "
        f"({ATTACKERS} clients for {SECONDS:.0f} s beside reads by guid)",
        [
            "database",
            "rows",
            f"search alone (median of {ALONE})",
            "guid read alone p50 / p99",
            "searches under attack: statuses",
            "guid read beside p50 / p99 / max",
            "/readyz",
        ],
    )
    for kind in ("SQLite", "MySQL"):
        with tempfile.TemporaryDirectory() as tmp:
            database = SeededDatabase(kind, Path(tmp))
            try:
                for rows in SIZES:
                    table.add(*measure(database, rows, Path(tmp)))
            finally:
                database.drop()
    table.publish()
