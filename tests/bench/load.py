"""Load on two cores: PixyProxy next to a bare FastAPI floor answering the same shapes.

The service runs with one worker on MySQL, a local folder and the offline generator, logging
every request as deployed; the floor (``tests.bench.floor_app``) answers from memory, without
logs. wrk drives both with 32 connections, in turns (ours, floor, ours, ...) so that a noisy
moment of the machine falls on both; each figure is the median of 3 short runs, and the ratio to
the floor is what matters. POSTs go to the service with the OpenAI generator pointed at the fake
OpenAI server, answering after 1 s; the first burst after start is reported on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.data.blob_local import LocalBlobStore
from tests.bench.common import (
    PeakRss,
    Table,
    background,
    exchange,
    mib,
    outcome_of,
    png_of_size,
    rss_bytes,
    service,
)
from tests.bench.content import bench_images, seed
from tests.fixtures import (
    create_scratch_database,
    drop_scratch_database,
    free_port,
    openai_settings,
)

CONNECTIONS = 32
SECONDS = 5
RUNS = 3
PROVIDER_DELAY = 1.0


@dataclass
class WrkResult:
    requests_per_second: float
    p99_ms: float
    errors: int


def wrk(url: str) -> WrkResult:
    """One wrk run: requests/s, p99 latency and non-2xx or socket errors."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out)) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)
    )
    return WrkResult(rps, p99_ms, errors)


def median_of_runs(runs: list[WrkResult]) -> WrkResult:
    return WrkResult(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
    )


def median_wrk(url: str) -> WrkResult:
    return median_of_runs([wrk(url) for _ in range(RUNS)])


def interleaved_wrk(ours: str, theirs: str) -> tuple[WrkResult, WrkResult]:
    """Runs against both in turn, so that a noisy moment of the machine falls on both alike."""
    pairs = [(wrk(ours), wrk(theirs)) for _ in range(RUNS)]
    return median_of_runs([a for a, _ in pairs]), median_of_runs([b for _, b in pairs])


def floor_server(content_bytes: int) -> AbstractContextManager[str]:
    """The bare FastAPI floor app, serving ``content_bytes`` of image from memory."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.bench.floor_app:app", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    return background(command, url, FLOOR_CONTENT_BYTES=str(content_bytes))


async def concurrent_posts(base_url: str, count: int) -> tuple[float, Counter[int]]:
    """Wall time of ``count`` simultaneous POSTs, and how many got each status (0: failed)."""
    bodies = [json.dumps({"prompt": f"load {n}"}).encode() for n in range(count)]
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(exchange(base_url, "POST", "/image/", body=b, give_up_after=120) for b in bodies)
    )
    return time.perf_counter() - started, Counter(answer.status for answer in answers)


def run() -> None:
    """Print the load table."""
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench installs it with apt-get): load bench skipped")
        return
    table = Table(
        f"Load, one worker (wrk, {CONNECTIONS} connections, median of {RUNS} x {SECONDS} s)",
        ["scenario", "PixyProxy", "floor", "ratio", "aim", "server RSS idle / peak"],
    )
    database_url = create_scratch_database()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench_reads(table, Path(tmp), database_url)
            bench_posts(table, Path(tmp), database_url)
            bench_workers(table, Path(tmp), database_url)
    finally:
        drop_scratch_database(database_url)
    table.publish()


def bench_reads(table: Table, root: Path, database_url: str) -> None:
    store = LocalBlobStore(root / "images")
    store.ensure_ready()
    picture = png_of_size(30_000)
    with bench_images(database_url) as repository:
        images = [seed(repository, store, picture) for _ in range(50)]
    guid = images[0].guid
    scenarios = [
        ("GET /image/{guid}", f"/image/{guid}", ">= 50%"),
        ("GET /image/{guid}/content (30 KB)", f"/image/{guid}/content", ">= 50%"),
        ("GET /image/ (first page of 50)", "/image/", ">= 40%"),
    ]
    with (
        service(
            root / "reads", PIXY_DATABASE_URL=database_url, PIXY_STORAGE_URL=f"file://{store.root}"
        ) as server,
        floor_server(len(picture)) as floor,
    ):
        for name, path, aim in scenarios:
            idle = rss_bytes(server.process.pid)
            with PeakRss(server.process.pid).watching() as peak:
                ours, theirs = interleaved_wrk(
                    server.base_url + path, floor + path.replace(str(guid), str(uuid.uuid4()))
                )
            table.add(
                f"{name}: requests/s (p99; errors)",
                f"{ours.requests_per_second:.0f} ({ours.p99_ms:.1f} ms; {ours.errors})",
                f"{theirs.requests_per_second:.0f} ({theirs.p99_ms:.1f} ms; {theirs.errors})",
                f"{ours.requests_per_second / theirs.requests_per_second:.0%}",
                aim,
                f"{mib(idle)} / {mib(peak.peak)}",
            )


def provider_process() -> AbstractContextManager[str]:
    """The fake OpenAI server, answering after ``PROVIDER_DELAY``."""
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.openai_server", str(port), str(PROVIDER_DELAY)]
    return background(command, f"http://127.0.0.1:{port}/v1")


def bench_posts(table: Table, root: Path, database_url: str) -> None:
    with (
        provider_process() as provider_url,
        service(
            root / "posts",
            PIXY_DATABASE_URL=database_url,
            PIXY_STORAGE_URL=f"file://{root / 'posted'}",
            **openai_settings(provider_url),
            PIXY_DATABASE_POOL_SIZE="20",
        ) as server,
    ):
        # The first burst after start also opens the connections, threads and code paths that
        # later ones reuse: it is reported on its own, and the aim is read on the warm ones.
        first, first_statuses = asyncio.run(concurrent_posts(server.base_url, 100))
        table.add(
            "100 concurrent POST /image, first burst after start",
            f"{first:.2f} s: {outcome_of(first_statuses)}",
            f"{PROVIDER_DELAY:.2f} s",
            f"{PROVIDER_DELAY / first:.0%}",
            "reported",
            "",
        )
        for count, runs, aim in (
            (100, RUNS, "100 of 100, <= 1.5 s"),
            (1000, 1, "2xx or clean 503 only"),
        ):
            idle = rss_bytes(server.process.pid)
            with PeakRss(server.process.pid).watching() as peak:
                bursts = [
                    asyncio.run(concurrent_posts(server.base_url, count)) for _ in range(runs)
                ]
            elapsed = statistics.median(seconds for seconds, _ in bursts)
            statuses = sum((burst for _, burst in bursts), Counter[int]())
            median_note = f" (median of {runs})" if runs > 1 else ""
            table.add(
                f"{count} concurrent POST /image (provider takes {PROVIDER_DELAY:.0f} s)"
                + median_note,
                f"{elapsed:.2f} s: {outcome_of(statuses)}",
                f"{PROVIDER_DELAY:.2f} s",
                f"{PROVIDER_DELAY / elapsed:.0%}",
                aim,
                f"{mib(idle)} / {mib(peak.peak)}",
            )


def bench_workers(table: Table, root: Path, database_url: str) -> None:
    guid = None
    for workers in (1, 2):
        with service(
            root / f"workers-{workers}",
            PIXY_DATABASE_URL=database_url,
            PIXY_STORAGE_URL=f"file://{root / 'images'}",
            PIXY_WORKERS=str(workers),
        ) as server:
            guid = (
                guid
                or httpx.get(f"{server.base_url}/image/", params={"limit": 1}).json()[0]["guid"]
            )
            result = median_wrk(f"{server.base_url}/image/{guid}")
            table.add(
                f"GET /image/{{guid}} with PIXY_WORKERS={workers}",
                f"{result.requests_per_second:.0f} ({result.p99_ms:.1f} ms; {result.errors})",
                "",
                "",
                "reported",
                "",
            )
