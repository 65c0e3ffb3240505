"""Single flight: concurrent callers of one key share one run of the work.

Unlike ``Coalescer`` (which never lets a caller join a read that began before it came, so that
no answer is staler than the caller), this is for work whose result does not change once made,
such as a variant: a caller joins whatever run is under way. The work runs in a task of its own,
so a caller that goes away does not cancel it for the others (or for the next request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """At most one run of the work per key at a time; every caller gets its result."""

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        """The result of the run of ``work`` under way for ``key``, or of a new one."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have gone before it ended
