"""Listing under concurrent load: identical reads are coalesced, yet never answer stale.

Every GET /image/ sent after a POST has returned must list the new image, however many other
listings are in flight at the time (on SQLite and on MySQL).
"""

from __future__ import annotations

import anyio
import httpx
import pytest

from tests.web.conftest import Backend

pytestmark = pytest.mark.anyio

LISTERS = 8
ROUNDS = 5


async def keep_listing(client: httpx.AsyncClient, stop: anyio.Event, seen: list[int]) -> None:
    while not stop.is_set():
        response = await client.get("/image/")
        seen.append(response.status_code)


async def list_once(client: httpx.AsyncClient, pages: list[httpx.Response]) -> None:
    pages.append(await client.get("/image/"))


async def test_a_listing_sent_after_a_post_shows_its_image(backend: Backend) -> None:
    limits = httpx.Limits(max_connections=2 * LISTERS + 1)
    background: list[int] = []
    async with httpx.AsyncClient(
        base_url=backend.server.base_url, timeout=30, limits=limits
    ) as client:
        stop = anyio.Event()
        async with anyio.create_task_group() as tasks:
            for _ in range(LISTERS):
                tasks.start_soon(keep_listing, client, stop, background)
            for round_number in range(ROUNDS):
                created = await client.post("/image/", json={"prompt": f"round {round_number}"})
                assert created.status_code == 200
                guid = created.json()["guid"]
                pages: list[httpx.Response] = []
                async with anyio.create_task_group() as listers:
                    for _ in range(LISTERS):
                        listers.start_soon(list_once, client, pages)
                assert [page.status_code for page in pages] == [200] * LISTERS
                assert all(guid in [image["guid"] for image in page.json()] for page in pages)
            stop.set()
    assert background and set(background) == {200}
