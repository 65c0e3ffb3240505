"""A least-recently-used map bounded by total weight: entries counted, or bytes summed.

Used only from the event loop (one thread), so it takes no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(_: object) -> int:
    return 1


class BoundedLru(Generic[K, V]):
    """Keeps the most recently used values whose weights add up to at most ``capacity``."""

    def __init__(self, capacity: int, weigh: Callable[[V], int] = _one) -> None:
        self.capacity = capacity
        self._weigh = weigh
        self._values: OrderedDict[K, V] = OrderedDict()
        self.weight = 0

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: K) -> V | None:
        """The value under ``key`` (now the most recent), or None."""
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` unless it alone outweighs the capacity; evict the least recent."""
        weight = self._weigh(value)
        if weight > self.capacity:
            return
        previous = self._values.pop(key, None)
        if previous is not None:
            self.weight -= self._weigh(previous)
        self._values[key] = value
        self.weight += weight
        while self.weight > self.capacity:
            _, evicted = self._values.popitem(last=False)
            self.weight -= self._weigh(evicted)

    def pop(self, key: K) -> V | None:
        """Remove and return the value under ``key``, or None."""
        value = self._values.pop(key, None)
        if value is not None:
            self.weight -= self._weigh(value)
        return value

    def clear(self) -> None:
        """Remove every value."""
        self._values.clear()
        self.weight = 0
