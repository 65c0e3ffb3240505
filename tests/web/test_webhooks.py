"""Webhooks through live servers: signed, retried with the same id, kept across restarts,
bounded when the receiver never answers, and refused for targets that are not public."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.webhook_receiver import WebhookReceiver, start_receiver, stop_receiver
from tests.fixtures import (
    LiveServer,
    mysql_connect,
    openai_settings,
    start_live_server,
    wait_until,
)
from tests.problems import assert_problem

SECRET = "whsec_" + base64.b64encode(b"pixyproxy-webhook-test-secret-32").decode()
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    fake = start_receiver()
    yield fake
    stop_receiver(fake)


@pytest.fixture(params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    url: str = request.getfixturevalue("mysql_url")
    return url


def serve(workdir: Path, database_url: str, **settings: str) -> LiveServer:
    """A server that sends webhooks to 127.0.0.1 (the test's receiver)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return start_live_server(
        workdir,
        PIXY_DATABASE_URL=database_url,
        PIXY_WEBHOOK_SECRET=SECRET,
        PIXY_WEBHOOK_ALLOW_PRIVATE="true",
        **settings,
    )


def deliveries(database_url: str) -> list[dict[str, Any]]:
    """The webhook_deliveries rows, read straight from the database."""
    sql = "SELECT id, job_id, status, attempts, last_status, last_error FROM webhook_deliveries"
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql)]
    with mysql_connect(database_url) as mysql:
        cursor = mysql.cursor()
        cursor.execute(sql)
        return list(cursor.fetchall())


def settled(database_url: str, count: int = 1) -> list[dict[str, Any]]:
    """The deliveries once ``count`` of them are delivered or failed."""
    rows: list[dict[str, Any]] = []

    def done() -> bool:
        rows[:] = deliveries(database_url)
        return len(rows) == count and all(r["status"] != "pending" for r in rows)

    wait_until(done, seconds=90)
    return rows


def deliver_one(
    workdir: Path, database_url: str, receiver: WebhookReceiver, prompt: str, **settings: str
) -> dict[str, Any]:
    """Make one image with a webhook to ``receiver`` and wait for its delivery to settle."""
    server = serve(workdir, database_url, **settings)
    try:
        with server.client() as client:
            body = {"prompt": prompt, "webhook_url": receiver.url}
            assert client.post("/image", json=body).status_code == 200
            [row] = settled(database_url)
    finally:
        server.stop()
    return row


def verified(received_body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The message, once the independent verifier has checked its signature."""
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    message: dict[str, Any] = standardwebhooks.Webhook(SECRET).verify(
        received_body, {name: headers[name] for name in wanted}
    )
    return message


def test_a_finished_job_is_delivered_once_signed(
    tmp_path: Path, database_url: str, receiver: WebhookReceiver
) -> None:
    server = serve(tmp_path / "a", database_url)
    try:
        with server.client() as client:
            made = client.post("/image", json={"prompt": "a hook", "webhook_url": receiver.url})
            assert made.status_code == 200
            guid = made.json()["guid"]
            [row] = settled(database_url)
            job = client.get(f"/jobs/{guid}").json()
    finally:
        server.stop()
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
    [got] = receiver.requests
    assert got.path == "/hook"
    assert got.headers["webhook-id"] == row["id"]
    assert got.headers["content-type"] == "application/json"
    message = verified(got.body, got.headers)
    assert message == {"type": "job.succeeded", "data": job}
    assert message["data"]["image"]["guid"] == guid


def test_a_failed_job_is_delivered_as_job_failed(
    tmp_path: Path, receiver: WebhookReceiver, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = "safety"
    database_url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    server = serve(tmp_path / "a", database_url, **openai_settings(fake_openai.base_url))
    try:
        with server.client() as client:
            made = client.post("/image", json={"prompt": "a hook", "webhook_url": receiver.url})
            assert made.status_code == 422
            settled(database_url)
            [got] = receiver.requests
            message = verified(got.body, got.headers)
            job = client.get(f"/jobs/{message['data']['id']}").json()
    finally:
        server.stop()
    assert message == {"type": "job.failed", "data": job}
    assert job["status"] == "failed" and job["error"]["code"] == "prompt_rejected"


def test_a_failing_receiver_gets_the_same_message_again(
    tmp_path: Path, database_url: str, receiver: WebhookReceiver
) -> None:
    receiver.script = [500, 500]
    row = deliver_one(
        tmp_path / "a", database_url, receiver, "retried", PIXY_WEBHOOK_RETRY_SCHEDULE="1,1"
    )
    assert row["status"] == "delivered" and row["attempts"] == 3
    assert receiver.answered == [500, 500, 200]
    assert {got.headers["webhook-id"] for got in receiver.requests} == {row["id"]}
    assert len({got.body for got in receiver.requests}) == 1
    for got in receiver.requests:
        assert verified(got.body, got.headers)["type"] == "job.succeeded"


def test_the_retries_run_out_on_the_schedule(tmp_path: Path, receiver: WebhookReceiver) -> None:
    receiver.answer = 503
    database_url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    row = deliver_one(
        tmp_path / "a", database_url, receiver, "never taken", PIXY_WEBHOOK_RETRY_SCHEDULE="0.5,0.5"
    )
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["last_status"] == 503
    assert receiver.answered == [503, 503, 503]


def test_a_delivery_pending_when_its_replica_stops_is_sent_by_the_next(
    tmp_path: Path, database_url: str, receiver: WebhookReceiver
) -> None:
    receiver.answer = 500
    schedule = {"PIXY_WEBHOOK_RETRY_SCHEDULE": "3,3,3,3,3,3,3"}
    first = serve(tmp_path / "a", database_url, **schedule)
    try:
        with first.client() as client:
            body = {"prompt": "outlives", "webhook_url": receiver.url}
            assert client.post("/image", json=body, headers=ASYNC).status_code == 202
            wait_until(lambda: any(r["attempts"] >= 1 for r in deliveries(database_url)))
            wait_until(lambda: receiver.answered != [])
    finally:
        first.stop()
    [row] = deliveries(database_url)
    assert row["status"] == "pending" and row["last_status"] == 500
    receiver.answer = 200
    second = serve(tmp_path / "b", database_url, **schedule)
    try:
        [row] = settled(database_url)
    finally:
        second.stop()
    assert row["status"] == "delivered"
    assert receiver.answered[-1] == 200 and set(receiver.answered[:-1]) == {500}
    assert {got.headers["webhook-id"] for got in receiver.requests} == {row["id"]}


def test_a_receiver_that_never_answers_holds_a_bounded_number_of_connections(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.answer = "hang"
    database_url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    server = serve(tmp_path / "a", database_url, PIXY_WEBHOOK_RETRY_SCHEDULE="")
    jobs = 20
    try:
        with server.client() as client:
            for n in range(jobs):
                body = {"prompt": f"unheard {n}", "webhook_url": receiver.url}
                assert client.post("/image", json=body, headers=ASYNC).status_code == 202
            rows = settled(database_url, count=jobs)
    finally:
        server.stop()
    assert {(r["status"], r["attempts"], r["last_error"]) for r in rows} == {
        ("failed", 1, "timed out")
    }
    assert len(receiver.requests) == jobs
    assert receiver.most_open <= 16  # the dispatcher's bound: never one connection per job


def test_redirects_are_not_followed(tmp_path: Path, receiver: WebhookReceiver) -> None:
    receiver.answer = "redirect"
    database_url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    row = deliver_one(
        tmp_path / "a", database_url, receiver, "moved", PIXY_WEBHOOK_RETRY_SCHEDULE=""
    )
    assert row["status"] == "failed" and row["last_status"] == 302
    assert [got.path for got in receiver.requests] == ["/hook"]


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with a secret that refuses private targets (the default)."""
    server = start_live_server(tmp_path_factory.mktemp("strict"), PIXY_WEBHOOK_SECRET=SECRET)
    yield server
    server.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",  # a name that resolves to 127.0.0.1
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",  # 127.0.0.1 as one number
    ],
)
def test_private_targets_are_refused(strict_server: LiveServer, url: str) -> None:
    with strict_server.client() as client:
        response = client.post("/image", json={"prompt": "nosy", "webhook_url": url})
    assert_problem(response, 422, "invalid_request")
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "webhook_url"]]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "http://",
        "http://example.com:99999/hook",
        "http://user:password@example.com/hook",
        "http://example.com/" + "x" * 2048,
        "",
    ],
)
def test_malformed_targets_are_refused(strict_server: LiveServer, url: str) -> None:
    with strict_server.client() as client:
        response = client.post("/image", json={"prompt": "odd", "webhook_url": url})
    assert_problem(response, 422, "invalid_request")
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "webhook_url"]]


def test_a_webhook_needs_a_secret(tmp_path: Path, receiver: WebhookReceiver) -> None:
    server = start_live_server(tmp_path, PIXY_WEBHOOK_ALLOW_PRIVATE="true")
    try:
        with server.client() as client:
            response = client.post("/image", json={"prompt": "x", "webhook_url": receiver.url})
            assert client.post("/image", json={"prompt": "x"}).status_code == 200
    finally:
        server.stop()
    assert_problem(response, 422, "invalid_request")
    assert "PIXY_WEBHOOK_SECRET" in response.json()["errors"][0]["msg"]
    assert receiver.requests == []


def test_the_secret_is_never_logged(tmp_path: Path, receiver: WebhookReceiver) -> None:
    database_url = f"sqlite:///{tmp_path / 'pixyproxy.db'}"
    server = serve(tmp_path / "a", database_url)
    try:
        with server.client() as client:
            body = {"prompt": "quiet", "webhook_url": receiver.url}
            assert client.post("/image", json=body).status_code == 200
            settled(database_url)
    finally:
        server.stop()
    log = "\n".join(server.log_lines())
    assert "webhook_attempt" in log
    assert SECRET.removeprefix("whsec_") not in log
    assert json.loads(receiver.requests[0].body)["type"] == "job.succeeded"
