"""Request coalescing: identical reads that arrive together share one trip to the database.

Under load many clients ask for the same thing at once (the newest page of images, above all).
Each still gets an answer read after it arrived, so nothing is staler than without coalescing,
on one replica or many: a caller never joins a read that began before it came, it waits for that
one to end and then joins (or starts) the next. One read per key is in flight at a time.

A read outlives a caller that leaves while others still wait for it, and is told to stop,
through its ``Cancellation``, once none does.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio

from app.core.cancellation import Cancellation

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Flight(Generic[V]):
    """One read in flight, and what it ended with."""

    def __init__(self, number: int) -> None:
        self.number = number
        # Set when the read ends, ``over`` first: the callers that came too late for this read
        # (``late`` of them) wake before the ones it answers, so the next read is under way
        # while those answers are sent, not after.
        self.over = anyio.Event()
        self.late = 0
        self.done = anyio.Event()
        self.value: V | None = None
        self.error: BaseException | None = None
        self.cancelled = False
        # How many callers wait for this read, and how to stop it when none does.
        self.waiting = 0
        self.token = Cancellation()
        self.task: asyncio.Task[None] | None = None


class Coalescer(Generic[K, V]):
    """Runs ``read`` once for every caller of the same key that arrived before it began."""

    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}
        self._numbers = itertools.count()

    async def run(self, key: K, read: Callable[[Cancellation], Awaitable[V]]) -> V:
        """The value of ``read(token)``, from a call that began after this one did.

        The read goes on while any of its callers waits for it, so a caller that leaves does
        not fail the others; once none waits (each has been cancelled) its token is cancelled,
        which is how a read worth stopping (a costly search) learns that nobody wants it.
        """
        arrived = next(self._numbers)
        while True:
            flight = self._flights.get(key)
            if flight is None:
                flight = self._launch(key, read)
            elif flight.number < arrived:
                await self._wait_over(flight)
                continue
            await self._wait(flight)
            if flight.cancelled or (flight.error is not None and flight.token.cancelled):
                continue  # abandoned by the others just before this caller joined: read again
            return self._outcome(flight)

    def _launch(self, key: K, read: Callable[[Cancellation], Awaitable[V]]) -> _Flight[V]:
        flight: _Flight[V] = _Flight(next(self._numbers))
        self._flights[key] = flight
        # The read runs in a task of its own, so that the caller who began it may leave before
        # it ends. A bare asyncio task: an anyio task group costs five times as much, on every
        # listing. The flight holds it: the loop keeps only a weak reference.
        flight.task = asyncio.get_running_loop().create_task(self._fly(key, flight, read))
        return flight

    async def _fly(
        self, key: K, flight: _Flight[V], read: Callable[[Cancellation], Awaitable[V]]
    ) -> None:
        """Run the read to its end, whoever leaves meanwhile: the token is what stops it."""
        try:
            try:
                flight.value = await read(flight.token)
            except Exception as exc:  # handed to the callers, who raise it
                flight.error = exc
            finally:
                del self._flights[key]
                flight.over.set()
            if flight.late:
                # One turn of the loop: the late callers run first and launch the next read,
                # whose task then runs before the answers of this one are handed out.
                await asyncio.sleep(0)
        except BaseException:  # the loop is closing: no read for anyone
            flight.cancelled = True
            raise
        finally:
            flight.done.set()

    @staticmethod
    async def _wait_over(flight: _Flight[V]) -> None:
        """Wait for a read that began before this caller came to end."""
        flight.late += 1
        try:
            await flight.over.wait()
        finally:
            flight.late -= 1

    @staticmethod
    async def _wait(flight: _Flight[V]) -> None:
        """Wait for the read to end; the last caller to give up on it cancels its token."""
        flight.waiting += 1
        try:
            await flight.done.wait()
        finally:
            flight.waiting -= 1
            if not flight.waiting and not flight.done.is_set():
                flight.token.cancel()

    @staticmethod
    def _outcome(flight: _Flight[V]) -> V:
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[return-value]  # set when no error
