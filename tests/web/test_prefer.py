"""Parsing of the Prefer header (RFC 7240): what counts, what is ignored."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from app.web.prefer import Preferences, parse_prefer


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], Preferences()),
        (["respond-async"], Preferences(respond_async=True)),
        (["Respond-Async, wait=10"], Preferences(respond_async=True, wait=10)),
        (["wait=5", "respond-async"], Preferences(respond_async=True, wait=5)),
        (['wait="7"'], Preferences(wait=7)),
        (["wait=3; foo=bar"], Preferences(wait=3)),
        (["wait=1, wait=99"], Preferences(wait=1)),  # the first of a repeated preference
        (["wait=abc"], Preferences()),
        (["wait=-1"], Preferences()),
        (["wait=1e3"], Preferences()),
        (["wait=" + "9" * 5000], Preferences()),
        (["wait=²"], Preferences()),
        (["return=minimal, handling=lenient"], Preferences()),
        ([",,;=, =3"], Preferences()),
    ],
)
def test_known_preferences_count_and_the_rest_is_ignored(
    values: list[str], expected: Preferences
) -> None:
    headers = Headers(raw=[(b"prefer", value.encode()) for value in values])
    assert parse_prefer(headers) == expected
