"""Bounded queue: jobs wait in the database; only past the queue limit is a POST refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures import openai_settings, start_live_server, wait_until
from tests.problems import assert_problem

ASYNC = {"Prefer": "respond-async"}


def test_jobs_past_the_queue_limit_get_503_and_reads_go_on(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    server = start_live_server(
        tmp_path,
        **openai_settings(fake_openai.base_url),
        PIXY_JOB_CONCURRENCY="1",
        PIXY_JOB_QUEUE_LIMIT="2",
    )
    fake_openai.scenario = "hang"  # the one running job holds its slot until released
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            running = client.post("/image/", json={"prompt": "runs"}, headers=ASYNC)
            wait_until(lambda: len(fake_openai.requests) == 1)
            queued = [
                client.post("/image/", json={"prompt": f"waits {n}"}, headers=ASYNC)
                for n in range(2)
            ]
            refused = client.post("/image/", json={"prompt": "one too many"}, headers=ASYNC)
            with ThreadPoolExecutor(4) as pool:
                reads = list(pool.map(lambda _: client.get("/image/"), range(8)))
            health = client.get("/healthz")
            fake_openai.scenario = "ok"
            fake_openai.release.set()
            jobs = [running.headers["location"], *(r.headers["location"] for r in queued)]
            wait_until(
                lambda: (
                    all(client.get(job).json()["status"] != "running" for job in jobs)
                    and all(client.get(job).json()["status"] != "queued" for job in jobs)
                )
            )
            ends = [client.get(job).json()["status"] for job in jobs]
    finally:
        server.stop()
    assert [r.status_code for r in (running, *queued)] == [202, 202, 202]
    assert_problem(refused, 503, "generation_capacity")
    assert int(refused.headers["retry-after"]) >= 1
    assert all(r.status_code == 200 for r in reads) and health.status_code == 200
    # The hanging call failed (the fake answers 500 once released); the queued ones ran after.
    assert ends == ["failed", "succeeded", "succeeded"]
    assert len(fake_openai.requests) == 3
