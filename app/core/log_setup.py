"""Logging: structlog configured once, one line per event in the format of DESIGN §4.

    2026-11-21 06:04:01,123 INFO web1-20261121060401123-42-7 [42] [create_image:25] REQUEST START

Context (the request id) is bound per request through contextvars. Lines logged through the
standard library (uvicorn's own) are rendered the same way. ``PIXY_LOG_FORMAT=json`` renders the
same fields as one JSON object per line.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog
from structlog.typing import EventDict, Processor

CALLSITE_KEY = "callsite"
_LOGGING_MODULES = ("structlog", "logging", "app.core.log_setup")
"""An event may name the code it speaks for as ``callsite=(function, line)``."""


def _timestamp(_: Any, __: str, event: EventDict) -> EventDict:
    now = datetime.now(UTC)
    event["timestamp"] = f"{now:%Y-%m-%d %H:%M:%S},{now.microsecond // 1000:03d}"
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
        f"[{event.pop('func_name', '?')}:{event.pop('lineno', 0)}] {event.pop('event', '')}"
    )
    trace = event.pop("exception", None)
    detail = " ".join(f"{key}={_text_value(value)}" for key, value in event.items())
    line = f"{head} {detail}" if detail else head
    return f"{line}\n{trace}" if trace else line


def _text_value(value: object) -> str:
    text = str(value)
    return repr(text) if not text or any(ch in text for ch in " \"'=\n") else text


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
    logging.getLogger("uvicorn.access").disabled = True  # PixyProxy logs each request itself


def bind_request(**values: Any) -> Mapping[str, Any]:
    """Bind values to every line of the current request; returns tokens for ``unbind_request``."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind_request(tokens: Mapping[str, Any]) -> None:
    """Restore the context that was there before ``bind_request``."""
    structlog.contextvars.reset_contextvars(**tokens)
