"""A costly search whose client disconnects is stopped in the database, over HTTP, on SQLite and
MySQL: its query does not run on to its deadline, and other clients' reads go on meanwhile."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from tests.fixtures import (
    LiveServer,
    mysql_connect,
    wait_until,
)
from tests.web.conftest import seeded_server

ROWS = 60_000
# Nine one-letter words found only at the end of each long prompt, and one found nowhere: too
# short for a full-text index, each is a substring scan of the whole prompt, row after row.
SLOW_SEARCH = {"prompt": "b c d e f g h i j q", "count": "true"}


def long_prompt(n: int, rng: random.Random) -> str:
    return "x" * 3980 + " b c d e f g h i j"


@pytest.fixture(params=["sqlite", "mysql"])
def slow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A server whose slow search runs for seconds, with a deadline far beyond the test."""
    with seeded_server(request, tmp_path, ROWS, long_prompt, PIXY_LISTING_TIMEOUT="300") as seeded:
        live, url, _ = seeded
        yield live, url


def send_and_leave_open(live: LiveServer, params: dict[str, str]) -> socket.socket:
    """Send ``GET /image/?params`` on a socket of our own, which the test closes when it likes."""
    address = urlsplit(live.base_url)
    sock = socket.create_connection((address.hostname or "", address.port or 80), timeout=30)
    head = f"GET /image/?{urlencode(params)} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n"
    sock.sendall(head.encode("ascii"))
    return sock


def running_searches(url: str) -> int:
    """How many prompt searches the server's MySQL database is running (substring scans: the
    slow search's words are too short for the full-text index)."""
    name = urlsplit(url).path.lstrip("/")
    sql = (
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST"
        " WHERE DB = %s AND COMMAND = 'Query' AND INFO LIKE %s AND ID <> CONNECTION_ID()"
    )
    with mysql_connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(sql, (name, "%FROM images%prompt LIKE%"))
        row = cursor.fetchone()
    return int(row["n"])


def cancelled_lines(live: LiveServer) -> int:
    return sum("listing_query_cancelled" in line for line in live.log_lines())


def test_a_search_whose_client_leaves_is_stopped_and_reads_go_on(
    slow: tuple[LiveServer, str],
) -> None:
    live, url = slow
    mysql = url.startswith("mysql")
    with live.client() as client:
        guid = client.get("/image/", params={"limit": "1"}).json()[0]["guid"]
    search = send_and_leave_open(live, SLOW_SEARCH)
    try:
        if mysql:
            wait_until(lambda: running_searches(url) == 1)  # the query is under way
        time.sleep(0.5)
        # Meanwhile another client reads as usual: a page, an image, readiness.
        with live.client() as client:
            page = client.get("/image/", params={"limit": "5"})
            one = client.get(f"/image/{guid}")
            ready = client.get("/readyz")
        assert cancelled_lines(live) == 0  # the search still runs: its client waits
        if mysql:
            assert running_searches(url) == 1
    finally:
        search.close()
    wait_until(lambda: cancelled_lines(live) == 1, seconds=20)
    if mysql:
        wait_until(lambda: running_searches(url) == 0, seconds=20)
    assert page.status_code == one.status_code == ready.status_code == 200
    assert len(page.json()) == 5
    # The connection the search held serves on, and the service answers as before.
    with live.client() as client:
        again = client.get("/image/", params={"limit": "5"})
    assert again.json() == page.json()
    log = "\n".join(live.log_lines())
    assert "Traceback" not in log
    assert "unhandled_exception" not in log
