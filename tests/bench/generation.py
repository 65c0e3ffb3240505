"""Generation on default settings, against a provider that behaves like the real one.

The fake OpenAI server runs in a process of its own and answers every request after 10 s with a
~3 MB noisy PNG (about 4 MB of base64 JSON), as the real provider does. The service runs on
default settings: only the generator is pointed at the fake; nothing is tuned. Each scenario
gets a fresh service (and, on SQLite, a fresh database file), so that its peak RSS is its own:
the kernel's high-water mark (VmHWM), reset once the service is up.

First, the floor: 100 requests straight to the fake, read as they come, to show what the
provider and this machine allow at best. Then the scenarios: 100 and 200 synchronous
``POST /image`` started at once, one connection each; and 100 ``Prefer: respond-async``
submissions, each then polled every second through ``GET /jobs/{id}`` until it ends. The aims
are issue 15's: 100 at once all succeed within 1.4x the provider's latency and 300 MiB; at 200,
memory stays bounded.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tests.bench.common import (
    Table,
    background,
    exchange,
    mib,
    outcome_of,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    service,
)
from tests.fixtures import (
    LiveServer,
    create_scratch_database,
    drop_scratch_database,
    free_port,
    mysql_unreachable_reason,
    openai_settings,
)

PROVIDER_LATENCY = 10.0
IMAGE_SIDE = 1024  # a noisy PNG of 1024 x 1024 pixels: about 3 MB
SYNC_BURSTS = ((100, "100 x 200, <= 1.4x, <= 300 MiB"), (200, "all 200, RSS bounded"))
ASYNC_BURST = 100
FLOOR_BURST = 100
POLL_SECONDS = 1.0
GIVE_UP_SECONDS = 600.0  # a generous client: the service's own sync wait is 600 s


@dataclass
class Burst:
    """What one burst of requests came to."""

    statuses: Counter[int]
    seconds: list[float]  # when each request ended, from the start of the burst
    wall: float


def provider_process() -> AbstractContextManager[str]:
    """The fake OpenAI server, configured like the real provider."""
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.openai_server", str(port)]
    command += [str(PROVIDER_LATENCY), str(IMAGE_SIDE)]
    return background(command, f"http://127.0.0.1:{port}/v1")


def prompt_body(n: int) -> bytes:
    return json.dumps({"prompt": f"a duck in the rain, number {n}"}).encode()


async def sync_burst(base_url: str, count: int) -> Burst:
    """``count`` synchronous POSTs started at once; each waits for its image."""
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            exchange(base_url, "POST", "/image", body=prompt_body(n), give_up_after=GIVE_UP_SECONDS)
            for n in range(count)
        )
    )
    return Burst(
        Counter(answer.status for answer in answers),
        [answer.seconds for answer in answers],
        time.perf_counter() - started,
    )


async def async_burst(base_url: str, count: int) -> Burst:
    """``count`` POSTs with ``Prefer: respond-async`` started at once, each polled to its end."""
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(submit_and_follow(base_url, n) for n in range(count)))
    return Burst(
        Counter(status for status, _ in outcomes),
        [seconds - started for _, seconds in outcomes],
        time.perf_counter() - started,
    )


async def submit_and_follow(base_url: str, n: int) -> tuple[int, float]:
    """Submit one job and poll it: 200 if it succeeded, else the status that ended it (0: a
    job that failed or a request that got no answer); and when that was seen."""
    headers = {"Prefer": "respond-async"}
    submitted = await exchange(
        base_url, "POST", "/image", body=prompt_body(n), headers=headers, give_up_after=60
    )
    if submitted.status != 202:
        return submitted.status, time.perf_counter()
    location = f"/jobs/{json.loads(submitted.body)['id']}"
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        polled = await exchange(base_url, "GET", location, give_up_after=60)
        if polled.status != 200:
            return polled.status, time.perf_counter()
        status = json.loads(polled.body)["status"]
        if status in ("succeeded", "failed"):
            return (200 if status == "succeeded" else 0), time.perf_counter()
    return 0, time.perf_counter()


def measure(
    table: Table,
    server: LiveServer,
    label: str,
    aim: str,
    burst: Callable[[str], Coroutine[None, None, Burst]],
) -> None:
    """Run one burst against ``server`` and add its row."""
    pid = server.process.pid
    idle = rss_bytes(pid)
    reset_peak_rss(pid)
    result = asyncio.run(burst(server.base_url))
    add_row(table, label, result, f"{mib(idle)} / {mib(peak_rss_bytes(pid))}", aim)


def add_row(table: Table, label: str, result: Burst, rss: str, aim: str) -> None:
    ended = sorted(result.seconds)
    table.add(
        label,
        outcome_of(result.statuses),
        f"{result.wall:.1f} s",
        f"{result.wall / PROVIDER_LATENCY:.2f}x",
        f"{ended[0]:.1f} / {ended[len(ended) // 2]:.1f} / {ended[-1]:.1f} s",
        rss,
        aim,
    )


async def floor_burst(provider_url: str, count: int) -> Burst:
    """``count`` requests straight to the fake provider, answers read at once: the best any
    client can do on this machine, the floor that the service's wall time is read against."""
    body = json.dumps({"model": "gpt-image-2", "prompt": "a duck", "n": 1}).encode()
    base_url, path = provider_url.removesuffix("/v1"), "/v1/images/generations"
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(
            exchange(base_url, "POST", path, body=body, give_up_after=GIVE_UP_SECONDS)
            for _ in range(count)
        )
    )
    return Burst(
        Counter(answer.status for answer in answers),
        [answer.seconds for answer in answers],
        time.perf_counter() - started,
    )


def bench_database(
    table: Table, database: str, root: Path, provider_url: str, **settings: str
) -> None:
    """Every scenario on one database, each on a fresh service."""
    settings = openai_settings(provider_url) | settings
    for count, aim in SYNC_BURSTS:
        with service(root / f"sync-{count}", **settings) as server:
            measure(
                table,
                server,
                f"{database}: {count} concurrent sync POST /image",
                aim,
                partial(sync_burst, count=count),
            )
    with service(root / "async", **settings) as server:
        measure(
            table,
            server,
            f"{database}: {ASYNC_BURST} async POST /image, polled every {POLL_SECONDS:.0f} s",
            f"{ASYNC_BURST} succeeded",
            partial(async_burst, count=ASYNC_BURST),
        )


def run() -> None:
    """Print the generation table."""
    table = Table(
        f"Generation on default settings (provider: {PROVIDER_LATENCY:.0f} s per ~3 MB PNG; "
        "local folder)",
        [
            "scenario",
            "answers",
            "wall",
            "wall / provider latency",
            "answers ended (first / median / last)",
            "service RSS idle / peak",
            "aim",
        ],
    )
    with provider_process() as provider_url, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        floor = asyncio.run(floor_burst(provider_url, FLOOR_BURST))
        label = f"floor: {FLOOR_BURST} concurrent requests straight to the fake provider"
        add_row(table, label, floor, "", "reported")
        bench_database(table, "SQLite", root / "sqlite", provider_url)
        reason = mysql_unreachable_reason()
        if reason is not None:
            print(f"MariaDB rows skipped: {reason}")
        else:
            database_url = create_scratch_database()
            try:
                bench_database(
                    table, "MariaDB", root / "mysql", provider_url, PIXY_DATABASE_URL=database_url
                )
            finally:
                drop_scratch_database(database_url)
    table.publish()
