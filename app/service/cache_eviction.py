"""Bounded staleness for the caches of every replica: deleted images are forgotten in time.

Each replica asks the ``deletions`` log, once per ``interval`` (``PIXY_CACHE_STALENESS_SECONDS``),
for the guids deleted since it last asked, and drops them from its caches. One small indexed
query per interval per process; the read path itself does not change. If the log cannot be
read, the caches are dropped whole: an image deleted meanwhile must not be served for longer.

Log ids are given out when a delete's statement runs but seen when it commits, so two deletes
may become visible out of order: the ids seen in the last ``window`` seconds are read again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import anyio
import anyio.to_thread
import structlog

from app.core.exceptions import PixyProxyException
from app.core.interfaces import DeletionRepository
from app.core.metrics import CACHE_EVICTIONS

log = structlog.get_logger(__name__)
_LIMIT = 10_000
_WINDOW_SECONDS = 10.0


class DeletionFeed:
    """Polls the deletions log and evicts what it names from this process's caches."""

    def __init__(
        self,
        repository: DeletionRepository,
        *,
        forget: Callable[[str], None],
        forget_all: Callable[[], None],
        interval: float,
        window: float = _WINDOW_SECONDS,
    ) -> None:
        self._repository = repository
        self._forget = forget
        self._forget_all = forget_all
        self._interval = interval
        self._window = window
        self._floor: int | None = None
        self._seen: deque[tuple[float, int]] = deque()  # (when, the highest id seen by then)

    async def run(self) -> None:
        """Poll for the app's lifetime, the first time at once."""
        while True:
            await self.poll()
            await anyio.sleep(self._interval)

    async def poll(self) -> None:
        """Evict the images deleted since the last poll (all of them if that cannot be told)."""
        try:
            if self._floor is None:
                self._floor = await anyio.to_thread.run_sync(self._repository.last_deletion_id)
                self._seen.append((anyio.current_time(), self._floor))
                # What was cached before the log's end was known may be of an image deleted
                # before it: start afresh from here.
                self._forget_all()
                return
            read = self._repository.deletions_after
            rows = await anyio.to_thread.run_sync(lambda: read(self._floor or 0, limit=_LIMIT))
        except PixyProxyException as exc:
            self._forget_all()
            CACHE_EVICTIONS.labels("poll_failed").inc()
            log.warning("deletion_poll_failed", error=exc.code, detail=exc.detail)
            return
        if len(rows) >= _LIMIT:
            self._forget_all()
            CACHE_EVICTIONS.labels("too_many").inc()
        for _, guid in rows:
            self._forget(guid)
        new = sum(1 for row_id, _ in rows if row_id > self._seen[-1][1])
        if new:
            CACHE_EVICTIONS.labels("deleted").inc(new)
        self._advance(max((row_id for row_id, _ in rows), default=0))

    def _advance(self, highest: int) -> None:
        """Move the floor to the highest id seen ``window`` seconds ago."""
        now = anyio.current_time()
        self._seen.append((now, max(highest, self._seen[-1][1])))
        while len(self._seen) > 1 and self._seen[1][0] <= now - self._window:
            self._seen.popleft()
        if self._seen[0][0] <= now - self._window:
            self._floor = self._seen[0][1]
