"""A cancellation token: how a caller that gave up tells work running in a thread to stop.

The service cancels it once nobody waits for a read any more; the data layer checks it (SQLite's
progress handler) or registers what stops a running statement (MySQL's ``KILL QUERY``). Neither
side knows about the other's concerns: no request or connection crosses this boundary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Cancellation:
    """Set once, from any thread; callbacks registered with ``on_cancel`` run when it is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._callbacks: list[Callable[[], None]] = []
        self.deadline: float | None = None  # time.monotonic() by which the work must end

    def time_left(self, budget: float) -> float:
        """Seconds left of the work's time budget, which starts with the first ask: statements
        run one after the other for one request share one deadline, not one each."""
        with self._lock:
            if self.deadline is None:
                self.deadline = time.monotonic() + budget
            return self.deadline - time.monotonic()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called."""
        return self._cancelled

    def cancel(self) -> None:
        """Ask the work to stop; runs the registered callbacks once, in this thread."""
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    @contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """Run ``callback`` if the token is cancelled within the block (at once if it was)."""
        with self._lock:
            already = self._cancelled
            if not already:
                self._callbacks.append(callback)
        if already:
            callback()
        try:
            yield
        finally:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)
