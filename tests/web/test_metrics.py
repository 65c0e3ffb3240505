"""/metrics read back after real requests: counters and histograms with the right labels."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures import free_port, start_live_server


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample as (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_by_route_template(tmp_path: Path) -> None:
    server = start_live_server(tmp_path)
    try:
        with server.client() as client:
            created = client.post("/image/", json={"prompt": "measured"}).json()
            for _ in range(3):
                client.get(f"/image/{created['guid']}")
            client.get(f"/image/{uuid.uuid4()}")
            content = client.get(f"/image/{created['guid']}/content")
            client.get("/no/such/thing")
            scraped = client.get("/metrics")
    finally:
        server.stop()
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    assert (
        value(
            found,
            "pixyproxy_http_requests_total",
            method="GET",
            route="/image/{guid}",
            status="200",
        )
        == 3
    )
    assert (
        value(
            found,
            "pixyproxy_http_requests_total",
            method="GET",
            route="/image/{guid}",
            status="404",
        )
        == 1
    )
    assert (
        value(found, "pixyproxy_http_requests_total", method="POST", route="/image/", status="200")
        == 1
    )
    assert (
        value(found, "pixyproxy_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert not [key for key in found if created["guid"] in str(key)]  # no raw paths as labels
    assert (
        value(
            found,
            "pixyproxy_http_request_duration_seconds_count",
            method="GET",
            route="/image/{guid}",
        )
        == 4
    )
    assert value(found, "pixyproxy_generations_total", outcome="ok") == 1
    assert value(found, "pixyproxy_generation_duration_seconds_count", outcome="ok") == 1
    for status in ("queued", "running", "succeeded"):
        assert value(found, "pixyproxy_jobs_total", status=status) == 1
    assert value(found, "pixyproxy_job_queued_seconds_count") == 1
    assert value(found, "pixyproxy_job_attempts_count") == 1
    assert value(found, "pixyproxy_provider_call_duration_seconds_count", outcome="ok") == 1
    assert value(found, "pixyproxy_jobs_running") == 0
    assert value(found, "pixyproxy_image_budget_bytes") == 0  # given back once stored
    assert value(found, "pixyproxy_content_bytes_sent_total") == len(content.content)
    assert value(found, "pixyproxy_database_call_duration_seconds_count", statement="insert") >= 1
    assert value(found, "pixyproxy_database_call_duration_seconds_count", statement="select") >= 2
    assert value(found, "pixyproxy_store_call_duration_seconds_count", operation="put") == 1
    assert value(found, "pixyproxy_store_call_duration_seconds_count", operation="open") == 1


def test_metrics_can_be_switched_off_or_moved_to_their_own_port(tmp_path: Path) -> None:
    off = start_live_server(tmp_path, PIXY_METRICS_ENABLED="false")
    port = free_port()
    moved = start_live_server(tmp_path, PIXY_METRICS_PORT=str(port))
    try:
        with off.client() as client:
            assert client.get("/metrics").status_code == 404
        with moved.client() as client:
            client.get("/image/")
            assert client.get("/metrics").status_code == 404
        own = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        off.stop()
        moved.stop()
    assert own.status_code == 200
    found = samples(own.text)
    assert (
        value(found, "pixyproxy_http_requests_total", method="GET", route="/image/", status="200")
        == 1
    )


def test_metrics_add_up_across_worker_processes(tmp_path: Path) -> None:
    server = start_live_server(tmp_path, PIXY_WORKERS="2")
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    try:
        before = samples(httpx.get(f"{server.base_url}/metrics", timeout=10).text)
        for _ in range(20):  # a new connection each time, so both workers take some
            with httpx.Client(base_url=server.base_url, timeout=10) as fresh:
                assert fresh.get("/healthz").status_code == 200
        scraped = httpx.get(f"{server.base_url}/metrics", timeout=10)
    finally:
        server.stop()
    counted = value(samples(scraped.text), "pixyproxy_http_requests_total", **labels)
    assert counted - value(before, "pixyproxy_http_requests_total", **labels) == 20
