"""Two replicas on one MySQL: a job outlives the replica that ran it, killed or drained."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures import (
    LiveServer,
    create_scratch_database,
    drop_scratch_database,
    openai_settings,
    start_live_server,
    wait_until,
)

KEY = {"Authorization": "Bearer replica-key"}
ASYNC = {**KEY, "Prefer": "respond-async"}


@pytest.fixture
def shared(
    tmp_path: Path, mysql_available: None, fake_openai: FakeOpenAI
) -> Iterator[dict[str, str]]:
    """Settings two replicas share: one MySQL database, one folder, the fake provider."""
    database_url = create_scratch_database()
    yield {
        "PIXY_DATABASE_URL": database_url,
        "PIXY_STORAGE_URL": f"file://{tmp_path / 'shared-images'}",
        **openai_settings(fake_openai.base_url),
        "PIXY_API_KEYS": "replica-key",
        # A short lease, so that a dead replica's jobs are taken over within seconds here.
        "PIXY_JOB_LEASE_SECONDS": "3",
    }
    drop_scratch_database(database_url)


def replica(workdir: Path, settings: dict[str, str]) -> LiveServer:
    """One replica, started in a folder of its own."""
    workdir.mkdir(parents=True, exist_ok=True)
    return start_live_server(workdir, **settings)


def submit(server: LiveServer, count: int) -> list[str]:
    with server.client() as client:
        responses = [
            client.post("/image", json={"prompt": f"outlives {n}"}, headers=ASYNC)
            for n in range(count)
        ]
    assert [r.status_code for r in responses] == [202] * count
    return [r.headers["location"] for r in responses]


def all_finished(server: LiveServer, locations: list[str]) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    with server.client() as client:

        def done() -> bool:
            jobs[:] = [client.get(location, headers=KEY).json() for location in locations]
            return all(job["status"] in ("succeeded", "failed") for job in jobs)

        wait_until(done, seconds=120)
    return jobs


def test_jobs_of_a_killed_replica_are_finished_by_another(
    tmp_path: Path, shared: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    fake_openai.delay = 3.0
    first = replica(tmp_path / "a", shared)
    second = replica(tmp_path / "b", shared)
    try:
        locations = submit(first, 10)
        wait_until(lambda: len(fake_openai.requests) >= 10, seconds=10)
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
        jobs = all_finished(second, locations)
        with second.client() as client:
            served = [client.get(f"/image/{job['id']}/content") for job in jobs]
    finally:
        first.stop()
        second.stop()
    assert [job["status"] for job in jobs] == ["succeeded"] * 10
    assert all(job["attempts"] == 2 for job in jobs)  # taken over once each
    assert all(r.status_code == 200 and r.content.startswith(b"\x89PNG") for r in served)


def test_a_draining_replica_gives_back_what_it_cannot_finish(
    tmp_path: Path, shared: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    fake_openai.delay = 4.0
    drained = {**shared, "PIXY_SHUTDOWN_GRACE_SECONDS": "1"}
    first = replica(tmp_path / "a", drained)
    second = replica(tmp_path / "b", shared)
    try:
        locations = submit(first, 3)
        wait_until(lambda: len(fake_openai.requests) >= 3, seconds=10)
        os.kill(first.process.pid, signal.SIGTERM)
        exit_code = first.process.wait(timeout=30)
        jobs = all_finished(second, locations)
    finally:
        first.stop()
        second.stop()
    assert exit_code in (0, -signal.SIGTERM)
    assert [job["status"] for job in jobs] == ["succeeded"] * 3
    # Given back with the attempt refunded (the job did not fail: its replica stopped).
    assert all(job["attempts"] == 1 for job in jobs)
    log = "\n".join(first.log_lines())
    assert "job_runner_giving_back" in log and "job_requeued" in log


def test_a_job_id_of_one_replica_reads_the_same_on_the_other(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    first = replica(tmp_path / "a", shared)
    second = replica(tmp_path / "b", shared)
    try:
        with first.client() as a, second.client() as b:
            created = a.post("/image", json={"prompt": "seen twice"}, headers=KEY)
            via_b = b.get(f"/jobs/{created.json()['guid']}", headers=KEY)
            via_a = a.get(f"/jobs/{created.json()['guid']}", headers=KEY)
            other = httpx.get(f"{second.base_url}/jobs/{created.json()['guid']}")
    finally:
        first.stop()
        second.stop()
    assert created.status_code == 200
    assert via_a.json() == via_b.json()
    assert via_b.json()["image"] == created.json()
    assert other.status_code == 401
