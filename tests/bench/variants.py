"""Variants: the first request (made), repeats (from the store) and their throughput.

For originals of about 3 MB (1000x1000 noise, as big as a generated image), on a local folder and
on moto's S3: the first ``?width=256&format=webp`` of an image (decoded, scaled, encoded and
stored) against the first request of its original; a repeated variant request against a repeated
original request (one client, sequential); and the requests/s of repeated variant reads from four
clients against the floor (a bare FastAPI app answering bytes of the same size from memory).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import urllib3

from tests.bench.common import (
    BenchStore,
    Table,
    local_store,
    median_of,
    moto_store,
    png_of_size,
    service,
)
from tests.bench.content import CONCURRENCY, RUNS, bench_images, seed, throughput
from tests.bench.load import floor_server

FIRSTS = 5
REPEATS = 50
VARIANT = "?width=256&format=webp"


def milliseconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def bench_store(table: Table, target: BenchStore) -> None:
    label, workdir, settings, store = target.label, target.workdir, target.settings, target.store
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    with bench_images(database_url) as repository:
        images = [
            seed(repository, store, png_of_size(3_000_000, seed=n + 1)) for n in range(FIRSTS)
        ]
    with service(workdir / "server", PIXY_DATABASE_URL=database_url, **settings) as server:
        http = urllib3.PoolManager(maxsize=CONCURRENCY, timeout=60)

        def get(url: str) -> int:
            response = http.request("GET", url)
            assert response.status == 200, response.data[:300]
            return len(response.data)

        urls = [f"{server.base_url}/image/{image.guid}/content" for image in images]
        first_variant = [milliseconds(partial(get, url + VARIANT)) for url in urls]
        first_original = [milliseconds(partial(get, url)) for url in urls]
        table.add(
            f"{label}: first request (made)",
            f"{statistics.median(first_variant):.0f} ms",
            f"{statistics.median(first_original):.0f} ms",
            f"{statistics.median(first_variant) / statistics.median(first_original):.1f}x",
            "",
        )
        variant_url, original_url = urls[0] + VARIANT, urls[0]
        repeat_variant = [milliseconds(partial(get, variant_url)) for _ in range(REPEATS)]
        repeat_original = [milliseconds(partial(get, original_url)) for _ in range(REPEATS)]
        size, original_size = get(variant_url), get(original_url)
        table.add(
            f"{label}: repeated request ({size / 1024:.0f} KiB vs {original_size / 1e6:.1f} MB)",
            f"{statistics.median(repeat_variant):.1f} ms",
            f"{statistics.median(repeat_original):.1f} ms",
            f"{statistics.median(repeat_variant) / statistics.median(repeat_original):.0%}",
            "",
        )
        count = {"variant": 0, "floor": 0}
        with floor_server(size) as floor:
            floor_url = f"{floor}/image/{images[0].guid}/content"

            def variant() -> int:
                count["variant"] += 1
                return get(variant_url)

            def at_floor() -> int:
                count["floor"] += 1
                return get(floor_url)

            ours = median_of(RUNS, lambda: throughput(variant)) / size
            theirs = median_of(RUNS, lambda: throughput(at_floor)) / size
        table.add(
            f"{label}: repeated variant reads, {CONCURRENCY} clients",
            f"{ours:.0f} req/s",
            f"{theirs:.0f} req/s (floor)",
            f"{ours / theirs:.0%}",
            ">= 50%",
        )
        http.clear()


def run() -> None:
    """Print the variants table."""
    table = Table(
        f"Variants ({VARIANT[1:]} of ~3 MB PNGs; medians)",
        ["scenario", "variant", "original / floor", "ratio", "aim"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_store(table, local_store(root))
        with moto_store(root) as (s3, _):
            bench_store(table, s3)
    table.publish()
