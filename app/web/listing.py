"""Paging limits and Link headers of the image listing."""

from __future__ import annotations

from starlette.requests import Request

MAX_OFFSET = 100_000_000


def page_links(request: Request, next_cursor: str | None) -> str:
    """RFC 8288 links to the first page and, unless this is the last, the next one."""
    first = request.url.remove_query_params(["cursor", "offset"])
    links = [f'<{first}>; rel="first"']
    if next_cursor is not None:
        links.insert(0, f'<{first.include_query_params(cursor=next_cursor)}>; rel="next"')
    return ", ".join(links)
