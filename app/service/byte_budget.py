"""A budget of bytes: how much image data a process holds at once, whatever arrives together.

Each job takes a ``Share`` and asks it for more bytes before it reads, decodes or checks an
answer; the bytes come back when the share closes (the image is stored). Waiters are served in
the order they asked, so a big answer is not starved by small ones; an answer larger than the
whole budget is admitted alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.core import metrics


class ByteBudget:
    """At most ``limit`` bytes admitted at once across every share."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @asynccontextmanager
    async def share(self) -> AsyncIterator[Share]:
        """A share for one job; everything it was admitted is returned when the block ends."""
        share = Share(self)
        try:
            yield share
        finally:
            share.release()

    async def _acquire(self, nbytes: int) -> int:
        """Wait until ``nbytes`` fit (capped at the limit); return what was taken."""
        nbytes = min(max(nbytes, 0), self.limit)
        if not self._waiters and self.used + nbytes <= self.limit:
            self._take(nbytes)
            return nbytes
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (nbytes, future)
        self._waiters.append(entry)
        metrics.BUDGET_WAITERS.inc()
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self._give(nbytes)  # admitted just as the waiter was cancelled
            else:
                self._waiters.remove(entry)
                self._admit_waiters()
            raise
        finally:
            metrics.BUDGET_WAITERS.dec()
        return nbytes

    def _take(self, nbytes: int) -> None:
        self.used += nbytes
        metrics.BUDGET_BYTES.set(self.used)

    def _give(self, nbytes: int) -> None:
        self.used -= nbytes
        metrics.BUDGET_BYTES.set(self.used)
        self._admit_waiters()

    def _admit_waiters(self) -> None:
        while self._waiters and self.used + self._waiters[0][0] <= self.limit:
            nbytes, future = self._waiters.popleft()
            self._take(nbytes)
            future.set_result(None)


class Share:
    """The bytes one job holds of a ``ByteBudget``."""

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self.held = 0

    async def admit(self, nbytes: int) -> None:
        """Wait until ``nbytes`` more may be held by this job (never more than the whole budget)."""
        nbytes = min(nbytes, self._budget.limit - self.held)
        if nbytes <= 0:
            return
        self.held += await self._budget._acquire(nbytes)

    def release(self) -> None:
        """Give back everything this share holds."""
        held, self.held = self.held, 0
        if held:
            self._budget._give(held)
