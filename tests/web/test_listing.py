"""GET /image over HTTP: pages, Link headers, counts, filters and bad cursors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures import LiveServer, start_live_server
from tests.problems import assert_problem

LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, list[dict[str, str]]]]:
    """A server holding seven images: five ducks and two geese, newest last."""
    server = start_live_server(tmp_path_factory.mktemp("listing"))
    prompts = [f"duck number {n}" for n in range(5)] + ["goose one", "goose two"]
    with server.client() as client:
        made = [client.post("/image/", json={"prompt": p}).json() for p in prompts]
    yield server, made
    server.stop()


def test_link_headers_walk_every_page_once(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, made = seeded
    seen: list[str] = []
    with server.client() as client:
        response = client.get("/image/", params={"limit": 3})
        first_links = links(response)
        assert first_links["first"] == "/image/?limit=3"  # relative: resolved against the request
        while True:
            assert response.status_code == 200
            seen += [image["guid"] for image in response.json()]
            next_url = links(response).get("next")
            if next_url is None:
                break
            assert links(response)["first"] == first_links["first"]
            response = client.get(next_url)
    assert seen == [image["guid"] for image in reversed(made)]


def test_links_stay_on_the_scheme_and_host_the_client_used(
    seeded: tuple[LiveServer, list[dict[str, str]]],
) -> None:
    """Behind a TLS load balancer, Link must not say http://.

    The balancer's X-Forwarded-Proto is not trusted from its address, so the server sees a plain
    HTTP request for the public host: what it answers must resolve against what the client asked.
    """
    server, _ = seeded
    asked = "https://pixy.example/image/?limit=2&prompt=duck"
    with server.client() as client:
        response = client.get(
            "/image/?limit=2&prompt=duck",
            headers={"Host": "pixy.example"},
        )
    found = links(response)
    assert set(found) == {"first", "next"}
    for target in found.values():
        resolved = httpx.URL(asked).join(target)
        assert resolved.scheme == "https"
        assert (resolved.host, resolved.path) == ("pixy.example", "/image/")
    assert "cursor=" in found["next"]


def test_last_page_has_no_next_link(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, _ = seeded
    with server.client() as client:
        response = client.get("/image", params={"limit": 500})
    assert set(links(response)) == {"first"}


def test_links_keep_the_filters(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, made = seeded
    with server.client() as client:
        first = client.get("/image/", params={"prompt": "duck", "limit": 2})
        second = client.get(links(first)["next"])
    assert "prompt=duck" in links(first)["next"]
    guids = [i["guid"] for i in first.json() + second.json()]
    assert guids == [i["guid"] for i in reversed(made[:5])][:4]


def test_count_only_when_asked(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, _ = seeded
    with server.client() as client:
        plain = client.get("/image/", params={"prompt": "goose"})
        counted = client.get("/image/", params={"prompt": "goose", "count": "true", "limit": 1})
    assert "x-total-count" not in plain.headers
    assert counted.headers["x-total-count"] == "2"
    assert len(counted.json()) == 1


def test_filters_by_guid_filename_and_dates(
    seeded: tuple[LiveServer, list[dict[str, str]]],
) -> None:
    server, made = seeded
    target = made[2]
    with server.client() as client:
        by_guid = client.get("/image/", params={"guid": target["guid"]}).json()
        by_name = client.get("/image/", params={"filename": target["filename"]}).json()
        after = client.get("/image/", params={"created_after": made[4]["created_at"]}).json()
        before = client.get("/image/", params={"created_before": made[1]["created_at"]}).json()
        contains = client.get("/image/", params={"prompt_contains": "UMBER 3"}).json()
    assert by_guid == [target] and by_name == [target]
    assert [i["guid"] for i in after] == [made[6]["guid"], made[5]["guid"]]
    assert before == [made[0]]
    assert [i["prompt"] for i in contains] == ["duck number 3"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        {"cursor": "%%%"},
        {"cursor": "x" * 65},
        {"cursor": ""},
        {"limit": 0},
        {"limit": 501},
        {"limit": -5},
        {"offset": -1},
        {"offset": 10**12},
        {"limit": 99999999999999999999999},
        {"created_after": "yesterday"},
        {"guid": "nope"},
        {"count": "maybe"},
        {"prompt": ""},
        {"prompt": "x" * 4001},
    ],
)
def test_bad_listing_parameters_are_422(
    seeded: tuple[LiveServer, list[dict[str, str]]], params: dict[str, object]
) -> None:
    server, _ = seeded
    with server.client() as client:
        response = client.get("/image/", params=params)  # type: ignore[arg-type]
    assert_problem(response, 422, "invalid_request")


def test_a_tampered_cursor_is_422(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, _ = seeded
    with server.client() as client:
        cursor = links(client.get("/image/", params={"limit": 1}))["next"].split("cursor=")[1]
        flipped = ("B" if cursor[3] == "A" else "A").join((cursor[:3], cursor[4:]))
        good = client.get("/image/", params={"limit": 1, "cursor": cursor})
        bad = client.get("/image/", params={"limit": 1, "cursor": flipped})
        both = client.get("/image/", params={"limit": 1, "cursor": cursor, "offset": 2})
    assert good.status_code == 200
    assert_problem(bad, 422, "invalid_request")
    assert_problem(both, 422, "invalid_request")


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c[:20] + ("B" if c[20] == "A" else "A") + c[21:],  # the signature notices
        lambda c: c[:-1] + "B",  # the pattern notices: the last character carries 2 bits
        lambda c: c[:-1],
        lambda c: c + "A",
    ],
    ids=["middle", "last", "shortened", "lengthened"],
)
def test_every_edit_of_a_cursor_is_told_the_same(
    seeded: tuple[LiveServer, list[dict[str, str]]], edit: Callable[[str], str]
) -> None:
    server, _ = seeded
    with server.client() as client:
        cursor = links(client.get("/image/", params={"limit": 1}))["next"].split("cursor=")[1]
        response = client.get("/image/", params={"limit": 1, "cursor": edit(cursor)})
    body = assert_problem(response, 422, "invalid_request")
    assert body["errors"] == [
        {
            "loc": ["query", "cursor"],
            "msg": "the cursor is malformed or was altered",
            "type": "value_error",
        }
    ]


def test_limits_at_the_bounds(seeded: tuple[LiveServer, list[dict[str, str]]]) -> None:
    server, made = seeded
    with server.client() as client:
        assert len(client.get("/image/", params={"limit": 1}).json()) == 1
        assert len(client.get("/image/", params={"limit": 500}).json()) == len(made)
        assert len(client.get("/image/").json()) == len(made)  # default 50


def test_cursor_from_one_replica_works_on_another(tmp_path: Path) -> None:
    """Two processes on one database, with the same secret, accept each other's cursors."""
    one, two = start_live_server(tmp_path), start_live_server(tmp_path)
    try:
        with one.client() as first, two.client() as second:
            for n in range(3):
                first.post("/image/", json={"prompt": f"shared {n}"})
            next_url = links(first.get("/image/", params={"limit": 1}))["next"]
            response = second.get(next_url.replace(one.base_url, two.base_url))
    finally:
        one.stop()
        two.stop()
    assert response.status_code == 200
    assert [i["prompt"] for i in response.json()] == ["shared 1"]
