"""What every benchmark needs: processes to start, memory to watch, a table to print."""

from __future__ import annotations

import asyncio
import io
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from tests.fixtures import (
    PROJECT_ROOT,
    S3_CREDENTIALS,
    LiveServer,
    free_port,
    s3_client,
    start_live_server,
    wait_until_answers,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RESULTS = PROJECT_ROOT / "bench-results.md"


def median_of(runs: int, measure: Callable[[], float]) -> float:
    """The median of ``runs`` measurements: these machines are noisy."""
    return statistics.median(measure() for _ in range(runs))


def rss_bytes(pid: int) -> int:
    """The resident memory of a process, from /proc."""
    return _status_bytes(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory a process has had since it started or ``reset_peak_rss``.

    The kernel keeps it (VmHWM), so no spike is missed between two samples.
    """
    return _status_bytes(pid, "VmHWM")


def reset_peak_rss(pid: int) -> None:
    """Start a process's peak RSS afresh from its current RSS (Linux 4.0+, our own processes)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _status_bytes(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class PeakRss:
    """Samples a process's RSS every few milliseconds while a block runs."""

    pid: int
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.005)

    @contextmanager
    def watching(self) -> Iterator[PeakRss]:
        self.peak = rss_bytes(self.pid)
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            self._stop.set()
            sampler.join()


@contextmanager
def background(command: list[str], url: str, **env: str) -> Iterator[str]:
    """Run ``command`` (a server) in a process of its own until the block ends; yields ``url``
    once it answers. Its own process keeps it from sharing an interpreter with the client."""
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_answers(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def moto_process() -> AbstractContextManager[str]:
    """moto's S3 server over HTTP."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return background(command, f"http://127.0.0.1:{port}", **S3_CREDENTIALS)


@dataclass(frozen=True)
class BenchStore:
    """A store a benchmark seeds directly, and what points the service at it."""

    label: str
    workdir: Path
    settings: dict[str, str]
    store: LocalBlobStore | S3BlobStore


def local_store(root: Path) -> BenchStore:
    """A local folder below ``root``, ready to be written to."""
    store = LocalBlobStore(root / "local" / "images")
    store.ensure_ready()
    settings = {"PIXY_STORAGE_URL": f"file://{store.root}"}
    return BenchStore("local folder", root / "local", settings, store)


@contextmanager
def moto_store(root: Path) -> Iterator[tuple[BenchStore, S3Client]]:
    """A bucket on moto's S3 server while the block runs, and a client of that server."""
    with moto_process() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="bench")
        settings = {
            "PIXY_STORAGE_URL": "s3://bench",
            "PIXY_S3_ENDPOINT_URL": endpoint,
            **S3_CREDENTIALS,
        }
        yield BenchStore("S3 (moto)", root / "s3", settings, S3BlobStore(client, "bench")), client


@contextmanager
def service(workdir: Path, **settings: str) -> Iterator[LiveServer]:
    """PixyProxy in its own process with these settings, logging every request as deployed."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = start_live_server(workdir, **settings)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Answer:
    """What a bare HTTP exchange got: status (0: no answer), body and seconds taken."""

    status: int
    body: bytes
    seconds: float


async def exchange(
    base_url: str,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    give_up_after: float = 60.0,
) -> Answer:
    """One HTTP/1.1 request on a connection of its own, read until the server closes it; no
    answer within ``give_up_after`` seconds counts as none (status 0), as a client gives up.

    A bare exchange rather than an httpx client: httpx's pool does work for every open
    connection each time a request finishes, so with hundreds in flight the client itself
    becomes the bottleneck (measured: 100 answers due at 1.0 s arrived over 1.2-1.6 s).
    """
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    started = time.perf_counter()
    try:
        async with asyncio.timeout(give_up_after):
            reader, writer = await asyncio.open_connection(host, int(port))
            try:
                writer.write("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                answer = await reader.read()  # all of it: the server closes when done
            finally:
                writer.close()
        head, _, content = answer.partition(b"\r\n\r\n")
        status = int(head.split(None, 2)[1]) if head.startswith(b"HTTP/") else 0
    except (OSError, TimeoutError, ValueError, IndexError):
        status, content = 0, b""
    return Answer(status, content, time.perf_counter() - started)


def outcome_of(statuses: Counter[int]) -> str:
    """How many answers had each status, e.g. ``98 x 200, 2 x 503``."""
    return ", ".join(f"{n} x {status or 'failed'}" for status, n in sorted(statuses.items()))


def png_of_size(approximate_bytes: int, seed: int = 1) -> bytes:
    """A real PNG of random pixels, about ``approximate_bytes`` long (noise does not compress)."""
    side = max(8, int((approximate_bytes / 3) ** 0.5))
    pixels = os.urandom(side * side * 3) if seed else bytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def machine() -> str:
    """One line on where the figures come from."""
    libraries = ", ".join(
        f"{name} {version(name)}"
        for name in (
            "fastapi",
            "starlette",
            "uvicorn",
            "uvloop",
            "pydantic",
            "structlog",
            "PyMySQL",
            "boto3",
            "openai",
            "aiohttp",
        )
    )
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()} on {platform.machine()}, "
        f"{libraries}"
    )


def mib(value: float) -> str:
    return f"{value / 1024 / 1024:.1f} MiB"


@dataclass
class Table:
    """Rows of figures: printed, and appended to the git-ignored results file."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def publish(self) -> None:
        text = self.render()
        print(text, flush=True)
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write(text + "\n")
