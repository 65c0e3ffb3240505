"""Usage rows for images that have none: made before ``usage_records`` existed, or by an older
release still serving beside this one during an upgrade (it writes images without them).

Each replica runs a pass at start and then every five minutes: the first reads every image,
later ones the images added since (with a margin, since ids are given out before commit), a few
milliseconds. Rows are read without locks, a window of ids per statement (so none scans a large
table whole), and written with INSERT IGNORE, so replicas doing it at once agree.
"""

from __future__ import annotations

from functools import partial

import anyio
import anyio.to_thread
import structlog

from app.core.exceptions import PixyProxyException
from app.core.interfaces import UsageRepository

log = structlog.get_logger(__name__)
_INTERVAL_SECONDS = 300.0
_BATCH = 500
_WINDOW = 50_000
# Ids given out to images that committed after a pass read past them.
_MARGIN = 10_000


class UsageCatchUp:
    """Gives every image its usage row, however it was written."""

    def __init__(self, repository: UsageRepository, *, interval: float = _INTERVAL_SECONDS) -> None:
        self._repository = repository
        self._interval = interval
        self._done_through = 0

    async def run(self) -> None:
        """A pass now, then every interval (the app's lifetime)."""
        while True:
            try:
                await self.catch_up()
            except PixyProxyException as exc:
                log.warning("usage_catch_up_failed", error=exc.code, detail=exc.detail)
            await anyio.sleep(self._interval)

    async def catch_up(self) -> int:
        """Write the usage rows missing since the last pass; how many."""
        top = await anyio.to_thread.run_sync(self._repository.last_image_id)
        after = max(0, self._done_through - _MARGIN)
        written = 0
        while after < top:
            through = min(after + _WINDOW, top)
            batch = partial(self._repository.record_missing, after=after, through=through)
            last, count = await anyio.to_thread.run_sync(partial(batch, limit=_BATCH))
            written += count
            after = through if last is None else last
        self._done_through = top
        if written:
            log.info("usage_caught_up", images=written)
        return written
