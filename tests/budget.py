"""Stand-ins for the memory budget's ``admit`` when a test calls a generator directly."""

from __future__ import annotations


async def admit_any(nbytes: int) -> None:
    """Admit everything at once: the test is not about memory."""


class Admitted:
    """An ``admit`` that records what it was asked for."""

    def __init__(self) -> None:
        self.asks: list[int] = []

    async def __call__(self, nbytes: int) -> None:
        self.asks.append(nbytes)
