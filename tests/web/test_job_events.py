"""Live progress over Server-Sent Events, on a live server with the real ``openai`` client
streaming partial renders from the fake provider."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
)
from tests.problems import assert_problem
from tests.web.conftest import serve_fake_openai

KEY = {"Authorization": "Bearer events-key"}
ASYNC = {**KEY, "Prefer": "respond-async"}


@dataclass
class Event:
    id: int
    kind: str
    data: dict[str, Any]


def submit(client: httpx.Client, prompt: str) -> str:
    """Ask for an image as a job; its URL."""
    response = client.post("/image", json={"prompt": prompt}, headers=ASYNC)
    assert response.status_code == 202, response.text
    location: str = response.headers["location"]
    return location


def read_events(
    server: LiveServer, location: str, *, last_event_id: int | None = None, limit: int = 50
) -> tuple[list[Event], int]:
    """Every event of the stream until it ends, and how many keep-alive comments came."""
    headers = dict(KEY)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    events: list[Event] = []
    keepalives = 0
    fields: dict[str, str] = {}
    with httpx.stream(
        "GET", f"{server.base_url}{location}/events", headers=headers, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        for line in response.iter_lines():
            if line.startswith(":"):
                keepalives += 1
            elif not line:
                if "data" in fields:
                    data = json.loads(fields["data"])
                    events.append(Event(int(fields["id"]), fields["event"], data))
                fields = {}
                if len(events) >= limit:
                    break
            else:
                name, _, value = line.partition(": ")
                fields[name] = value
    return events, keepalives


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serve_fake_openai(
        request,
        "events",
        PIXY_API_KEYS="events-key,other-key",
        PIXY_PARTIAL_IMAGES="2",
        PIXY_EVENTS_KEEPALIVE_SECONDS="0.5",
    ) as setup:
        yield setup.server


@pytest.fixture
def fake(fresh_fake: FakeOpenAI) -> FakeOpenAI:
    fresh_fake.delay = 1.5  # longer than the keep-alive interval, and partials spread over it
    return fresh_fake


def test_a_stream_tells_status_then_partials_then_the_end(
    server: LiveServer, fake: FakeOpenAI
) -> None:
    with server.client() as client:
        location = submit(client, "progress")
        events, keepalives = read_events(server, location)
        partials = [
            client.get(e.data["url"], headers=KEY) for e in events if e.kind == "partial_image"
        ]
        job = client.get(location, headers=KEY).json()
    kinds = [event.kind for event in events]
    assert kinds[0] == "status" and kinds[-1] == "status"
    assert kinds.count("partial_image") == 2
    ids = [event.id for event in events]
    assert ids == sorted(set(ids))  # every event has an id, growing
    assert events[-1].data["status"] == "succeeded" and events[-1].data == job
    assert [e.data["index"] for e in events if e.kind == "partial_image"] == [0, 1]
    assert all(r.status_code == 200 and r.content.startswith(b"\x89PNG") for r in partials)
    assert keepalives >= 1  # the provider took longer than the keep-alive interval
    assert fake.requests[-1]["stream"] is True and fake.requests[-1]["partial_images"] == 2


def test_resuming_with_last_event_id_repeats_nothing_and_loses_nothing(
    server: LiveServer, fake: FakeOpenAI
) -> None:
    with server.client() as client:
        location = submit(client, "resume")
        first, _ = read_events(server, location, limit=2)
        rest, _ = read_events(server, location, last_event_id=first[-1].id)
        whole, _ = read_events(server, location, last_event_id=0)
        after_the_end = client.get(
            f"{location}/events", headers={**KEY, "Last-Event-ID": str(whole[-1].id)}
        )
    seen = first + rest
    assert [e.id for e in seen] == sorted({e.id for e in seen})
    assert seen[-1].data["status"] == "succeeded"
    assert [e.kind for e in whole].count("partial_image") == 2
    assert {e.id for e in whole} >= {e.id for e in seen if e.kind == "partial_image"}
    # Nothing after the final status: 204, which tells an EventSource to stop reconnecting.
    assert after_the_end.status_code == 204 and after_the_end.content == b""


def test_events_are_the_owners_only_and_bad_ids_are_refused(
    server: LiveServer, fake: FakeOpenAI
) -> None:
    fake.delay = 0.0
    with server.client() as client:
        location = submit(client, "mine")
        other = client.get(f"{location}/events", headers={"Authorization": "Bearer other-key"})
        anonymous = client.get(f"{location}/events")
        missing = client.get(f"/jobs/{uuid.uuid4()}/events", headers=KEY)
        malformed = client.get("/jobs/not-a-job/events", headers=KEY)
        no_partial = client.get(f"{location}/partials/7", headers=KEY)
        bad_index = client.get(f"{location}/partials/-1", headers=KEY)
    assert_problem(other, 404, "job_not_found")
    assert_problem(anonymous, 401, "not_authenticated")
    assert_problem(missing, 404, "job_not_found")
    assert_problem(malformed, 422, "invalid_request")
    assert_problem(no_partial, 404, "partial_not_found")
    assert_problem(bad_index, 422, "invalid_request")


def test_a_stream_on_one_replica_follows_a_job_run_by_another(
    tmp_path: Path, mysql_available: None, fake_openai: FakeOpenAI
) -> None:
    database_url = create_scratch_database()
    shared = {
        "PIXY_DATABASE_URL": database_url,
        "PIXY_STORAGE_URL": f"file://{tmp_path / 'shared'}",
        **openai_settings(fake_openai.base_url),
        "PIXY_API_KEYS": "events-key",
        "PIXY_PARTIAL_IMAGES": "2",
    }
    fake_openai.delay = 1.5
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runs = start_live_server(tmp_path / "a", **shared)
    # The replica that takes the POST wakes its own runner, which claims the job at once; the
    # other one only polls for jobs, and here holds the stream.
    watches = start_live_server(tmp_path / "b", **shared)
    try:
        with runs.client() as client:
            location = submit(client, "elsewhere")
        events, _ = read_events(watches, location)
        with watches.client() as client:
            partial = client.get(f"{location}/partials/1", headers=KEY)
    finally:
        runs.stop()
        watches.stop()
        drop_scratch_database(database_url)
    assert [e.kind for e in events].count("partial_image") == 2
    assert events[-1].data["status"] == "succeeded"
    assert partial.status_code == 200
