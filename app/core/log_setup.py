"""Logging: structlog configured once, one line per event in the README's format ("Logs").

    2026-11-21 06:04:01,123 INFO web1-20261121060401123-42-7 [42] [create_image:25] REQUEST START

Context (the request id) is bound per request through contextvars. Lines logged through the
standard library (uvicorn's own) are rendered the same way. ``PIXY_LOG_FORMAT=json`` renders the
same fields as one JSON object per line.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

CALLSITE_KEY = "callsite"
"""An event may name the code it speaks for as ``callsite=(function, line)``."""
# Bare only when printable and free of what separates or quotes fields: anything else is written
# as its repr, which escapes every character that could end a line (CR, LF, VT, FF, NEL, U+2028,
# U+2029) or drive a terminal (ESC and every other control, bidi overrides), so no value a client
# sends can forge or erase a log line.
_PLAIN_VALUE = re.compile(r"[^ \"'=]+")
_LOGGING_MODULES = ("structlog", "logging", "app.core.log_setup")


class UtcClock:
    """The current UTC time as text in a ``strftime`` format, to the millisecond.

    Formatting a date costs microseconds, several per log line; the text of the current second
    is formatted once and kept, and only the milliseconds change within it.
    """

    def __init__(self, second_format: str, millisecond_separator: str = "") -> None:
        self._format = second_format
        self._separator = millisecond_separator
        self._second: tuple[int, str] = (-1, "")  # replaced whole, so threads see a pair

    def now(self) -> str:
        """The time now, e.g. ``2026-11-21 06:04:01,123`` for ``%Y-%m-%d %H:%M:%S`` and ``,``."""
        moment = time.time()
        second = int(moment)
        cached_second, text = self._second
        if second != cached_second:
            text = time.strftime(self._format, time.gmtime(second))
            self._second = (second, text)
        return f"{text}{self._separator}{int((moment - second) * 1000):03d}"


_LINE_CLOCK = UtcClock("%Y-%m-%d %H:%M:%S", ",")


def _timestamp(_: Any, __: str, event: EventDict) -> EventDict:
    event["timestamp"] = _LINE_CLOCK.now()
    return event


def _thread(_: Any, __: str, event: EventDict) -> EventDict:
    event["thread"] = threading.get_native_id()
    return event


def _callsite(_: Any, __: str, event: EventDict) -> EventDict:
    """Name the code that logged: the given ``callsite``, else the first frame outside logging."""
    callsite = event.pop(CALLSITE_KEY, None)
    if callsite is None:
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(
            _LOGGING_MODULES
        ):
            frame = frame.f_back
        callsite = frame.f_code.co_name, frame.f_lineno
    event["func_name"], event["lineno"] = callsite
    return event


def _render_text(_: Any, __: str, event: EventDict) -> str:
    head = (
        f"{event.pop('timestamp')} {event.pop('level', 'info').upper()} "
        f"{event.pop('request_id', '-')} [{event.pop('thread', '-')}] "
        f"[{event.pop('func_name', '?')}:{event.pop('lineno', 0)}] "
        f"{_escaped(str(event.pop('event', '')))}"
    )
    trace = event.pop("exception", None)
    detail = " ".join([f"{key}={_text_value(value)}" for key, value in event.items()])
    line = f"{head} {detail}" if detail else head
    if not trace:
        return line
    # A traceback keeps its own line breaks; what its lines quote (a message, a path) is escaped.
    return "\n".join([line, *map(_escaped, trace.split("\n"))])


def _text_value(value: object) -> str:
    if type(value) is int or type(value) is float:
        return str(value)
    text = str(value)
    return text if text.isprintable() and _PLAIN_VALUE.fullmatch(text) else repr(text)


def _escaped(text: str) -> str:
    """``text`` with each character that is not printable written as its escape (``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join([char if char.isprintable() else repr(char)[1:-1] for char in text])


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _timestamp,
        _thread,
        _callsite,
    ]


def configure_logging(*, log_format: str = "text", level: str = "INFO") -> None:
    """Configure structlog and the standard library's root logger; safe to call again."""
    if log_format == "json":
        final: list[Processor] = [
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ]
    else:
        final = [structlog.processors.format_exc_info, _render_text]
    numeric_level = logging.getLevelName(level)
    structlog.configure(
        processors=[*_shared_processors(), *final],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_shared_processors(),
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.error").addFilter(_KNOWN_FAILURE_LAST_LINE)  # once, if again
    logging.getLogger("uvicorn.access").disabled = True  # PixyProxy logs each request itself


class _KnownFailureLastLine(logging.Filter):
    """Shortens a traceback that uvicorn logs as its message to the last line, when that line is
    one of PixyProxy's own errors.

    A start-up that fails reaches uvicorn as the whole traceback text (Starlette formats it),
    one multi-kilobyte line in this format. An error of ours was logged already, with its cause,
    as ``startup_failed``: its last line says the rest. Anything else keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Traceback (most recent call last):"):
            last = message.rstrip().rsplit("\n", 1)[-1]
            if last.startswith("app.core.exceptions."):
                record.msg, record.args = last, ()
        return True


_KNOWN_FAILURE_LAST_LINE = _KnownFailureLastLine()


def bind_request(**values: Any) -> Mapping[str, Any]:
    """Bind values to every line of the current request; returns tokens for ``unbind_request``."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind_request(tokens: Mapping[str, Any]) -> None:
    """Restore the context that was there before ``bind_request``."""
    structlog.contextvars.reset_contextvars(**tokens)
