"""Bounded generations: excess POSTs wait a bounded time, then get a clean 503."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures import openai_settings, start_live_server
from tests.web.test_errors import assert_problem


def test_generations_past_the_limit_get_503_and_reads_go_on(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    server = start_live_server(
        tmp_path,
        **openai_settings(fake_openai.base_url),
        PIXY_MAX_CONCURRENT_GENERATIONS="2",
        PIXY_GENERATION_QUEUE_TIMEOUT="0.5",
    )
    fake_openai.delay = 2.0
    try:
        with (
            httpx.Client(base_url=server.base_url, timeout=30) as client,
            ThreadPoolExecutor(8) as pool,
        ):
            posts = [
                pool.submit(client.post, "/image/", json={"prompt": f"busy {n}"}) for n in range(6)
            ]
            time.sleep(0.8)  # the two slots are taken; the other four have given up
            reads = [client.get("/image/") for _ in range(5)]
            health = client.get("/healthz")
            responses = [future.result() for future in posts]
    finally:
        server.stop()
    assert sorted(r.status_code for r in responses) == [200, 200, 503, 503, 503, 503]
    for rejected in (r for r in responses if r.status_code == 503):
        assert_problem(rejected, 503, "generation_capacity")
        assert int(rejected.headers["retry-after"]) >= 1
    assert all(r.status_code == 200 for r in reads) and health.status_code == 200
    assert len(fake_openai.requests) == 2
