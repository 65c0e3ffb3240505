"""Queries that cost the service more than they are worth are refused or cut short, over HTTP:
searches of many words, thousands of parameters, out-of-range values, searches past their
deadline. Each answers a clear problem, never a 500."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures import (
    LiveServer,
    start_live_server,
)
from tests.problems import assert_problem
from tests.web.conftest import seeded_server

TEN_WORDS = "a b c d e f g h i j"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A server on SQLite holding one image."""
    live = start_live_server(tmp_path_factory.mktemp("limits"))
    with live.client() as client:
        image = client.post("/image/", json={"prompt": "a rubber duck on a sink"}).json()
    yield live, image
    live.stop()


def no_tracebacks(live: LiveServer) -> None:
    log = "\n".join(live.log_lines())
    assert "Traceback" not in log
    assert "unhandled_exception" not in log


@pytest.mark.parametrize("words", [11, 300, 1_000, 2_000])
def test_a_search_of_more_words_than_the_cap_is_a_422(
    server: tuple[LiveServer, dict[str, str]], words: int
) -> None:
    live, _ = server
    with live.client() as client:
        response = client.get("/image/", params={"prompt": " ".join(["a"] * words)})
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["query", "prompt"]
    assert "at most 10 words" in body["errors"][0]["msg"]
    no_tracebacks(live)


def test_a_search_of_ten_words_answers(server: tuple[LiveServer, dict[str, str]]) -> None:
    live, image = server
    with live.client() as client:
        found = client.get("/image/", params={"prompt": "rubber duck sink a on " * 2})
        none = client.get("/image/", params={"prompt": TEN_WORDS})
    assert [i["guid"] for i in found.json()] == [image["guid"]]
    assert none.status_code == 200
    assert none.json() == []


@pytest.mark.parametrize(
    "params",
    [
        {"prompt": "duck\x00"},
        {"prompt": "\x1b[2J"},
        {"prompt_contains": "\x00"},
        {"prompt_contains": "a\x85b"},
    ],
)
def test_control_characters_in_a_search_are_a_422(
    server: tuple[LiveServer, dict[str, str]], params: dict[str, str]
) -> None:
    live, _ = server
    with live.client() as client:
        response = client.get("/image/", params=params)
    assert_problem(response, 422, "invalid_request")


def test_the_schema_documents_the_search_limits(server: tuple[LiveServer, dict[str, str]]) -> None:
    live, _ = server
    with live.client() as client:
        listing = client.get("/openapi.json").json()["paths"]["/image"]["get"]
    prompt = next(p for p in listing["parameters"] if p["name"] == "prompt")
    assert "at most 10 words" in prompt["description"]
    assert "{0,9}" in prompt["schema"]["pattern"]
    assert {"414", "422", "503", "504"} <= set(listing["responses"])


def test_thousands_of_query_parameters_are_refused(
    server: tuple[LiveServer, dict[str, str]],
) -> None:
    live, _ = server
    many = "&".join(f"{n:x}" for n in range(8_000))  # 8,000 distinct names in 32 KiB
    just_enough = "&".join(f"p{n}=1" for n in range(63)) + "&limit=1"
    with live.client() as client:
        refused = client.get(f"/image/?{many}")
        counted = client.get(f"/image/?{just_enough}")
        health = client.get("/healthz")
    detail = assert_problem(refused, 422, "invalid_request")["detail"]
    assert "at most 64 query parameters" in detail
    # 64 pass the count, then the listing names each one it does not take.
    unknown = assert_problem(counted, 422, "invalid_request")["errors"]
    assert [error["loc"][1] for error in unknown] == [f"p{n}" for n in range(63)]
    assert health.status_code == 200


def test_a_query_string_over_48_kib_is_a_414(server: tuple[LiveServer, dict[str, str]]) -> None:
    live, _ = server
    # httpx refuses to send a query this long: http.client sends anything.
    host, port = live.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", "/image/?prompt_contains=" + "x" * 50_000)
        raw = conn.getresponse()
        response = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        conn.close()
    assert_problem(response, 414, "query_too_long")


def test_repeats_among_many_parameters_are_named(
    server: tuple[LiveServer, dict[str, str]],
) -> None:
    live, _ = server
    query = "&".join(f"p{n}=1" for n in range(50)) + "&p7=2&limit=1&limit=2"
    with live.client() as client:
        response = client.get(f"/image/?{query}")
    detail = assert_problem(response, 422, "invalid_request")["detail"]
    assert detail.endswith("given more than once: limit, p7")


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "0001-01-01T00:00:00+14:00"},
        {"created_before": "9999-12-31T23:59:59-14:00"},
        {"created_after": "0001-01-01T00:00:00.000001+00:01"},
    ],
)
def test_dates_outside_utc_range_are_a_422(
    server: tuple[LiveServer, dict[str, str]], params: dict[str, str]
) -> None:
    live, _ = server
    with live.client() as client:
        response = client.get("/image/", params=params)
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["query", next(iter(params))]
    no_tracebacks(live)


def test_dates_at_the_ends_of_utc_answer(server: tuple[LiveServer, dict[str, str]]) -> None:
    live, image = server
    with live.client() as client:
        after = client.get("/image/", params={"created_after": "0001-01-01T00:00:00+00:00"})
        before = client.get("/image/", params={"created_before": "9999-12-31T23:59:59"})
        shifted = client.get("/image/", params={"created_after": "0001-01-01T23:00:00+14:00"})
    for response in (after, before, shifted):
        assert [i["guid"] for i in response.json()] == [image["guid"]]


def test_a_range_of_five_thousand_digits_is_a_416(
    server: tuple[LiveServer, dict[str, str]],
) -> None:
    live, image = server
    nines = "9" * 5_000
    content = f"/image/{image['guid']}/content"
    with live.client() as client:
        size = len(client.get(content).content)
        past_the_end = client.get(content, headers={"Range": f"bytes={nines}-"})
        to_the_end = client.get(content, headers={"Range": f"bytes=0-{nines}"})
        whole_suffix = client.get(content, headers={"Range": f"bytes=-{nines}"})
        leading_zeros = client.get(content, headers={"Range": f"bytes={'0' * 5_000}1-1"})
    assert_problem(past_the_end, 416, "range_not_satisfiable")
    assert past_the_end.headers["content-range"] == f"bytes */{size}"
    assert to_the_end.status_code == whole_suffix.status_code == 206
    assert len(to_the_end.content) == len(whole_suffix.content) == size
    assert leading_zeros.status_code == 206
    assert leading_zeros.headers["content-range"] == f"bytes 1-1/{size}"
    no_tracebacks(live)


@pytest.fixture(params=["sqlite", "mysql"])
def crowded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A server with 20,000 images whose listing queries may run for a millisecond."""
    with seeded_server(request, tmp_path, 20_000, PIXY_LISTING_TIMEOUT="0.001") as (live, _, guids):
        yield live, guids[0]


def test_a_search_past_its_deadline_is_a_504_and_reads_go_on(
    crowded: tuple[LiveServer, str],
) -> None:
    live, guid = crowded
    with live.client() as client:
        search = client.get("/image/", params={"prompt": TEN_WORDS, "count": "true"})
        read = client.get(f"/image/{guid}")
        ready = client.get("/readyz")
    assert_problem(search, 504, "query_timeout")
    assert read.status_code == 200
    assert ready.status_code == 200


def test_a_problem_is_what_a_client_gets_for_a_bad_query_on_any_route(
    server: tuple[LiveServer, dict[str, str]],
) -> None:
    live, image = server
    many = "&".join(f"p{n}=1" for n in range(100))
    with live.client() as client:
        responses = [
            client.get(f"/image/{image['guid']}?{many}"),
            client.get(f"/image/{image['guid']}/content?{many}"),
            client.get(f"/healthz?{many}"),
        ]
    for response in responses:
        assert_problem(response, 422, "invalid_request")
