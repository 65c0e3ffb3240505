"""Faults of the parts PixyProxy depends on, caused for real, and what holds afterwards."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from app.data.database import open_database
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from tests.data.test_image_repository import make_image
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.tcp_proxy import TcpProxy
from tests.fixtures import (
    S3_CREDENTIALS,
    create_scratch_database,
    drop_scratch_database,
    free_port,
    mysql_admin_url,
    mysql_connect,
    openai_settings,
    start_live_server,
    wait_until,
)
from tests.problems import assert_problem


@pytest.fixture
def mysql_behind_proxy(mysql_available: None) -> Iterator[tuple[str, TcpProxy, str]]:
    """A scratch MySQL database reached through a proxy the test can cut: (url, proxy, direct)."""
    direct = create_scratch_database()
    admin = urlsplit(mysql_admin_url())
    proxy = TcpProxy(admin.hostname or "127.0.0.1", admin.port or 3306)
    name = urlsplit(direct).path.lstrip("/")
    yield f"mysql://{admin.username or 'root'}@127.0.0.1:{proxy.port}/{name}", proxy, direct
    proxy.close()
    drop_scratch_database(direct)


@pytest.fixture
def own_moto(s3_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """A moto server of this test's own, which the test may stop and start again."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = f"pixy-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=bucket)
    state: dict[str, Any] = {
        "server": server,
        "port": port,
        "endpoint": endpoint,
        "bucket": bucket,
        "client": client,
    }
    yield state
    state["server"].stop()


def object_count(moto: dict[str, Any]) -> int:
    listing = moto["client"].list_objects_v2(Bucket=moto["bucket"])
    return int(listing.get("KeyCount", 0))


def row_count(direct_url: str) -> int:
    with mysql_connect(direct_url) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT COUNT(*) AS n FROM images")
        return int(cursor.fetchone()["n"])


def s3_settings(moto: dict[str, Any]) -> dict[str, str]:
    return {
        "PIXY_STORAGE_URL": f"s3://{moto['bucket']}",
        "PIXY_S3_ENDPOINT_URL": moto["endpoint"],
        **S3_CREDENTIALS,
    }


def test_database_down_is_503_and_recovers_by_itself(
    tmp_path: Path, mysql_behind_proxy: tuple[str, TcpProxy, str]
) -> None:
    url, proxy, _ = mysql_behind_proxy
    server = start_live_server(tmp_path, PIXY_DATABASE_URL=url)
    try:
        with server.client() as client:
            created = client.post("/image/", json={"prompt": "before the outage"}).json()
            proxy.cut()
            listing = client.get("/image/")
            detail = client.get(f"/image/{created['guid']}")
            ready = client.get("/readyz")
            alive = client.get("/healthz")
            proxy.restore()
            after = [client.get("/image/") for _ in range(3)]
            ready_again = client.get("/readyz")
    finally:
        server.stop()
    for response in (listing, detail):
        assert_problem(response, 503, "database_unavailable")
        assert int(response.headers["retry-after"]) > 0
    assert_problem(ready, 503, "not_ready")
    assert alive.status_code == 200
    assert [r.status_code for r in after] == [200, 200, 200]
    assert [i["guid"] for i in after[0].json()] == [created["guid"]]
    assert ready_again.status_code == 200


def test_first_read_after_a_database_restart_is_answered(
    tmp_path: Path, mysql_behind_proxy: tuple[str, TcpProxy, str]
) -> None:
    url, proxy, direct = mysql_behind_proxy
    database = open_database(direct, pool_size=1)
    init_database(database)
    image = make_image("before the restart")
    SqlImageRepository(database).add(image)
    database.close()
    # No job ever runs, and the runner's housekeeping waits long: the request is the first
    # to find the dead connection, not a query of the runner that would empty the pool.
    server = start_live_server(
        tmp_path,
        PIXY_DATABASE_URL=url,
        PIXY_JOB_POLL_SECONDS="60",
        PIXY_JOB_LEASE_SECONDS="3600",
    )
    try:
        with server.client() as client:
            assert client.get("/image/").status_code == 200  # its connection back in the pool
            proxy.cut()  # the database restarted: every pooled connection is dead
            proxy.restore()
            first = client.get("/image/")
    finally:
        server.stop()
    assert first.status_code == 200, first.text
    assert [listed["guid"] for listed in first.json()] == [str(image.guid)]


def test_a_deleted_sqlite_file_fails_readiness_and_writes(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, PIXY_DATABASE_URL=f"sqlite:///{tmp_path / 'pixy.db'}")
    try:
        with server.client() as client:
            assert client.post("/image/", json={"prompt": "kept"}).status_code == 200
            assert client.get("/readyz").status_code == 200
            for leftover in tmp_path.glob("pixy.db*"):  # the file, its WAL and shared memory
                leftover.unlink()
            ready = client.get("/readyz")
            written = client.post("/image/", json={"prompt": "would be lost"})
            listing = client.get("/image/")
    finally:
        server.stop()
    assert_problem(ready, 503, "not_ready")
    assert_problem(written, 503, "database_unavailable")
    assert_problem(listing, 503, "database_unavailable")
    assert not (tmp_path / "pixy.db").exists()  # no empty database was started in its place


def test_bucket_down_is_503_and_leaves_no_row_without_bytes(
    tmp_path: Path, own_moto: dict[str, Any]
) -> None:
    # A paid-for image waits for the store to come back for a while; here, a second.
    server = start_live_server(
        tmp_path, **s3_settings(own_moto), PIXY_JOB_PERSIST_RETRY_SECONDS="1"
    )
    try:
        with server.client() as client:
            kept = client.post("/image/", json={"prompt": "stored fine"}).json()
            own_moto["server"].stop()
            failed = client.post("/image/", json={"prompt": "while the bucket is down"})
            content = client.get(f"/image/{kept['guid']}/content")
            rows_during = client.get("/image/").json()
            own_moto["server"] = ThreadedMotoServer(
                ip_address="127.0.0.1", port=own_moto["port"], verbose=False
            )
            own_moto["server"].start()
            recovered = client.post("/image/", json={"prompt": "bucket is back"})
            rows_after = client.get("/image/").json()
    finally:
        server.stop()
    assert_problem(failed, 503, "storage_unavailable")
    assert_problem(content, 503, "storage_unavailable")
    assert [i["guid"] for i in rows_during] == [kept["guid"]]
    assert recovered.status_code == 200
    assert len(rows_after) == 2
    assert object_count(own_moto) == 2


def test_database_lost_after_storing_keeps_the_paid_image_once_it_is_back(
    tmp_path: Path,
    mysql_behind_proxy: tuple[str, TcpProxy, str],
    own_moto: dict[str, Any],
    fake_openai: FakeOpenAI,
) -> None:
    url, proxy, direct = mysql_behind_proxy
    server = start_live_server(
        tmp_path,
        PIXY_DATABASE_URL=url,
        **openai_settings(fake_openai.base_url),
        **s3_settings(own_moto),
    )
    fake_openai.delay = 1.5
    try:
        with server.client() as client:
            results: list[httpx.Response] = []
            post = threading.Thread(
                target=lambda: results.append(client.post("/image/", json={"prompt": "doomed"}))
            )
            post.start()
            time.sleep(0.5)  # the generation is under way; the database goes away
            proxy.cut()
            post.join(timeout=30)
            proxy.restore()
            # Paid for, so kept: the row is written once the database is back.
            wait_until(lambda: row_count(direct) == 1, seconds=30)
            job = results[0].headers["location"]  # the job ran on: where to follow it
            finished = client.get(job).json()
    finally:
        server.stop()
    assert_problem(results[0], 503, "database_unavailable")
    assert job.startswith("/jobs/")
    assert finished["status"] == "succeeded"
    assert object_count(own_moto) == 1
    assert len(fake_openai.requests) == 1


def test_sigterm_fails_readiness_first_and_finishes_requests_in_flight(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    server = start_live_server(
        tmp_path,
        **openai_settings(fake_openai.base_url),
        PIXY_SHUTDOWN_DRAIN_SECONDS="1.5",
    )
    fake_openai.delay = 2.5
    results: list[httpx.Response] = []
    with server.client() as client:
        post = threading.Thread(
            target=lambda: results.append(client.post("/image/", json={"prompt": "in flight"}))
        )
        post.start()
        time.sleep(0.5)
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.3)
        with httpx.Client(base_url=server.base_url, timeout=5) as other:
            ready = other.get("/readyz")
            alive = other.get("/healthz")
        post.join(timeout=30)
    exit_code = server.process.wait(timeout=30)
    assert_problem(ready, 503, "not_ready")
    assert alive.status_code == 200
    assert results[0].status_code == 200
    image = results[0].json()
    assert (tmp_path / "images" / image["filename"]).stat().st_size > 5_000
    # uvicorn re-raises the SIGTERM once it has shut down, as a signalled process should.
    assert exit_code in (0, -signal.SIGTERM)
    assert not [p for p in (tmp_path / "images").iterdir() if p.name.startswith(".upload-")]
