"""Idle event streams: how many one replica holds, and what they cost the database.

The fake provider answers only after a long while, so every job stays queued or running; the
service runs on default settings. Each client submits a job (``Prefer: respond-async``) and
follows ``GET /jobs/{id}/events``: it reads the first status event and then only waits. Over
a quiet window the bench reads, from the service's own /metrics, how many database statements
ran and how many of them were the watcher's polls, against the number of open streams: issue
17 asks that many open streams do not cost a query each per second.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import time
import urllib.request
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import urlsplit

from tests.bench.common import Table, background, mib, rss_bytes, service
from tests.fixtures import free_port, openai_settings

STREAM_COUNTS = (100, 900)  # PIXY_MAX_CONNECTIONS (1,000) caps what one replica holds
QUIET_SECONDS = 10.0
PROVIDER_LATENCY = 600.0  # never answers within the bench: jobs stay queued or running


def provider() -> AbstractContextManager[str]:
    """The fake provider in a process of its own, answering only after the bench ends."""
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.openai_server", str(port)]
    return background([*command, str(PROVIDER_LATENCY)], f"http://127.0.0.1:{port}/v1")


def metric_sum(base_url: str, name: str) -> float:
    """The sum of every series of a counter in the service's /metrics."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


async def follow(
    base_url: str, opened: asyncio.Event, counter: list[int], stop: asyncio.Event
) -> None:
    """Submit one job, open its event stream, read the first event, then stay idle."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    body = json.dumps({"prompt": "a job that takes its time"}).encode()
    writer.write(
        b"POST /image HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        b"Prefer: respond-async\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    head = await reader.readuntil(b"\r\n\r\n")
    location = re.search(rb"(?i)location: (\S+)", head)
    length = re.search(rb"(?i)content-length: (\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    assert location is not None, head
    writer.write(b"GET %s/events HTTP/1.1\r\nHost: bench\r\n\r\n" % location.group(1))
    await reader.readuntil(b"event: status")
    counter[0] += 1
    if counter[0] >= counter[1]:
        opened.set()
    await stop.wait()
    writer.close()


async def hold_streams(base_url: str, count: int, pid: int) -> list[object]:
    """Open ``count`` streams, then measure a quiet window; one row of the table."""
    opened, stop = asyncio.Event(), asyncio.Event()
    counter = [0, count]
    started = time.perf_counter()
    tasks = [asyncio.create_task(follow(base_url, opened, counter, stop)) for _ in range(count)]
    await asyncio.wait_for(opened.wait(), timeout=120)
    open_seconds = time.perf_counter() - started
    statements = metric_sum(base_url, "pixyproxy_database_call_duration_seconds_count")
    polls = metric_sum(base_url, "pixyproxy_job_event_polls_total")
    await asyncio.sleep(QUIET_SECONDS)
    statements = metric_sum(base_url, "pixyproxy_database_call_duration_seconds_count") - statements
    polls = metric_sum(base_url, "pixyproxy_job_event_polls_total") - polls
    rss = rss_bytes(pid)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [
        count,
        f"{open_seconds:.1f} s",
        f"{statements / QUIET_SECONDS:.1f}",
        f"{polls / QUIET_SECONDS:.1f}",
        f"{statements / QUIET_SECONDS / count:.3f}",
        mib(rss),
    ]


def run() -> None:
    """Print the idle-streams table."""
    table = Table(
        "Idle job event streams on one replica (default settings; jobs never finish)",
        [
            "open streams",
            "time to open them all",
            "database statements/s while idle",
            "of them watcher polls/s",
            "statements/s per stream",
            "service RSS",
        ],
    )
    with provider() as provider_url, tempfile.TemporaryDirectory() as tmp:
        for count in STREAM_COUNTS:
            workdir = Path(tmp) / f"streams-{count}"
            with service(workdir, **openai_settings(provider_url)) as server:
                table.add(*asyncio.run(hold_streams(server.base_url, count, server.process.pid)))
    table.publish()
