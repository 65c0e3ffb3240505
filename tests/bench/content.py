"""Content delivery: bytes/s through /content versus straight from the store, and memory.

For a 30 KB and a 5 MB image on each store (a local folder; moto's S3 server), four client
threads download the object through the service and straight from the store for a few seconds at
a time; the ratio is what matters. Both go through urllib3: the service with it directly, S3 with
boto3, which reads with it (httpx, the bench's first client, cost a sixth of the throughput
through the service for itself). Then the redirect answer, and the server's RSS while it streams
a 50 MB object.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import urllib3

from app.core.models import ImageDetail
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.data.database import open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from tests.bench.common import (
    BenchStore,
    PeakRss,
    Table,
    local_store,
    median_of,
    mib,
    moto_store,
    png_of_size,
    rss_bytes,
    service,
)

SECONDS = 2.0
CONCURRENCY = 4
RUNS = 3
SIZES = {"30 KB": 30_000, "5 MB": 5_000_000}


def throughput(fetch: Callable[[], int], seconds: float = SECONDS) -> float:
    """Bytes per second that ``CONCURRENCY`` callers of ``fetch`` move in ``seconds``."""
    deadline = time.perf_counter() + seconds

    def worker() -> int:
        moved = 0
        while time.perf_counter() < deadline:
            moved += fetch()
        return moved

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        total = sum(pool.map(lambda _: worker(), range(CONCURRENCY)))
    return total / (time.perf_counter() - started)


@contextmanager
def bench_images(database_url: str) -> Iterator[SqlImageRepository]:
    """The images table of a benchmark database, its schema applied."""
    db = open_database(database_url, pool_size=1)
    try:
        init_database(db)
        yield SqlImageRepository(db)
    finally:
        db.close()


def seed(
    repository: SqlImageRepository, store: LocalBlobStore | S3BlobStore, data: bytes
) -> ImageDetail:
    """An image row and its bytes, written straight through the data layer."""
    guid = uuid.uuid4()
    now = datetime.now(UTC)
    image = ImageDetail(
        guid=guid,
        prompt=f"bench {len(data)} bytes",
        filename=store.key_for(f"{guid}.png"),
        created_at=now,
        updated_at=now,
    )
    store.put(image.filename, data, content_type="image/png")
    repository.add(image)
    return image


def bench_store(table: Table, target: BenchStore, read_direct: Callable[[str], int]) -> None:
    label, workdir, settings, store = target.label, target.workdir, target.settings, target.store
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    with bench_images(database_url) as repository:
        images = {name: seed(repository, store, png_of_size(size)) for name, size in SIZES.items()}
        big = seed(repository, store, png_of_size(50_000_000))
    # The bytes go through the service from the store every time: the memory cache for small
    # images is off, or the 30 KB rows would measure it instead of the streaming path.
    with service(
        workdir / "stream",
        PIXY_DATABASE_URL=database_url,
        PIXY_CONTENT_CACHE_BYTES="0",
        **settings,
    ) as server:
        http = urllib3.PoolManager(maxsize=CONCURRENCY, timeout=60)
        for name, image in images.items():
            url, key = f"{server.base_url}/image/{image.guid}/content", image.filename

            def through_service(url: str = url) -> int:
                return len(http.request("GET", url).data)

            def straight(key: str = key) -> int:
                return read_direct(key)

            served = median_of(RUNS, lambda: throughput(through_service))
            direct = median_of(RUNS, lambda: throughput(straight))
            # A folder read in this process crosses no network: no ratio to it means anything.
            ratio = f"{served / direct:.0%}" if isinstance(store, S3BlobStore) else "n/a"
            table.add(f"{label}, {name}", f"{mib(served)}/s", f"{mib(direct)}/s", ratio, ">= 70%")
        baseline = rss_bytes(server.process.pid)
        with PeakRss(server.process.pid).watching() as peak:
            response = http.request(
                "GET", f"{server.base_url}/image/{big.guid}/content", preload_content=False
            )
            received = sum(len(chunk) for chunk in response.stream(1 << 20))
            response.release_conn()
        table.add(
            f"{label}, 50 MB streamed: server RSS growth",
            mib(peak.peak - baseline),
            f"{mib(received)} sent",
            f"peak {mib(peak.peak)}",
            "< 20 MiB",
        )
        http.clear()


def run() -> None:
    """Print the content-delivery table."""
    table = Table(
        "Content delivery (median of 3 runs, 4 concurrent clients)",
        ["scenario", "through /content", "straight from the store", "ratio", "aim"],
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = local_store(root)
        assert isinstance(local.store, LocalBlobStore)
        folder = local.store.root
        bench_store(table, local, lambda key: len((folder / key).read_bytes()))
        with moto_store(root) as (s3, client):
            bench_store(
                table,
                s3,
                lambda key: len(client.get_object(Bucket="bench", Key=key)["Body"].read()),
            )
            bench_redirect(table, s3.workdir, s3.settings)
    table.publish()


def bench_redirect(table: Table, workdir: Path, settings: dict[str, str]) -> None:
    """How fast the service answers with a redirect instead of the bytes."""
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    with service(
        workdir / "redirect",
        PIXY_DATABASE_URL=database_url,
        PIXY_CONTENT_DELIVERY="redirect",
        **settings,
    ) as server:
        http = httpx.Client(base_url=server.base_url, timeout=60)
        guid = http.get("/image/", params={"limit": 1}).json()[0]["guid"]
        url = f"/image/{guid}/content"
        count = 0

        def answer() -> int:
            nonlocal count
            response = http.get(url)
            assert response.status_code == 307
            count += 1
            return 1

        started = time.perf_counter()
        median_of(RUNS, lambda: throughput(answer))
        per_second = count / (time.perf_counter() - started)
        table.add(
            "redirect answer (307 to a presigned URL)", f"{per_second:.0f} answers/s", "", "", ""
        )
        http.close()
