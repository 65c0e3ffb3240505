"""The ``Prefer`` request header (RFC 7240), as far as ``POST /image`` honours it.

``respond-async`` asks for 202 and the job at once; ``wait=N`` caps how long the request waits
for its job before answering 202. Unknown preferences and malformed values are ignored, as the
RFC asks; when a preference is given twice, the first one counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers


@dataclass(frozen=True)
class Preferences:
    """What the client prefers of a ``POST /image``."""

    respond_async: bool = False
    wait: int | None = None


def parse_prefer(headers: Headers) -> Preferences:
    """The preferences of every ``Prefer`` header of a request."""
    respond_async = False
    wait: int | None = None
    seen: set[str] = set()
    for header in headers.getlist("prefer"):
        for preference in header.split(","):
            token, _, value = preference.split(";", 1)[0].partition("=")
            name = token.strip().lower()
            if not name or name in seen:
                continue
            seen.add(name)
            value = value.strip().strip('"')
            if name == "respond-async":
                respond_async = True
            elif name == "wait" and value.isascii() and value.isdigit() and len(value) <= 9:
                wait = int(value)
    return Preferences(respond_async=respond_async, wait=wait)
