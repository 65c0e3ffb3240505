"""The log line's pieces that are ours: the clock text and how values are written."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from app.core.log_setup import UtcClock, _render_text, _text_value


def test_clock_text_is_utc_to_the_millisecond() -> None:
    clock = UtcClock("%Y-%m-%d %H:%M:%S", ",")
    before = datetime.now(UTC).replace(microsecond=0)
    text = clock.now()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", text)
    seconds, millis = text.split(",")
    moment = datetime.strptime(seconds, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert before <= moment <= after
    assert 0 <= int(millis) <= 999


def test_clock_moves_on_to_the_next_second() -> None:
    clock = UtcClock("%S")
    first = clock.now()
    time.sleep(1.01)
    second = clock.now()
    assert first[:2] != second[:2]  # the cached second was formatted again
    assert len(first) == len(second) == 5  # two digits of seconds, three of milliseconds


def test_values_with_spaces_quotes_or_equals_are_quoted() -> None:
    assert _text_value(200) == "200"
    assert _text_value(1.25) == "1.25"
    assert _text_value("/image/abc") == "/image/abc"
    assert _text_value("two words") == "'two words'"
    assert _text_value("a=b") == "'a=b'"
    assert _text_value('say "hi"') == "'say \"hi\"'"
    assert _text_value("") == "''"
    assert _text_value("line\nbreak") == "'line\\nbreak'"


# Characters that end a line somewhere (a terminal, str.splitlines, a log viewer) or drive a
# terminal: none may reach a text log line raw.
LINE_FORGERS = ["\x1b[2K", "\r", "\n", "\t", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\u202e"]


def test_values_with_controls_or_line_breaks_are_escaped() -> None:
    for forger in LINE_FORGERS:
        written = _text_value(f"/image/a{forger}b")
        assert written.isprintable(), repr(written)
        assert forger not in written


def test_event_and_traceback_text_are_escaped_but_lines_of_a_traceback_stay() -> None:
    event = {
        "timestamp": "t",
        "event": "uvicorn says \x1b[2K\rforged",
        "exception": "Traceback:\n  ValueError: bad \u2028 2026-01-01 INFO forged",
    }
    lines = _render_text(None, "info", event).split("\n")
    assert len(lines) == 3
    assert all(line.isprintable() for line in lines)
    assert lines[0].endswith("uvicorn says \\x1b[2K\\rforged")
    assert lines[2] == "  ValueError: bad \\u2028 2026-01-01 INFO forged"
