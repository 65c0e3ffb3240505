"""BoundedLru: the least recently used values go first, by count or by weight."""

from __future__ import annotations

from app.service.lru import BoundedLru


def test_counts_entries_and_evicts_the_least_recently_used() -> None:
    lru: BoundedLru[str, int] = BoundedLru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent, so "b" goes next
    lru.put("c", 3)
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == (1, None, 3)
    assert len(lru) == 2


def test_weighs_values_and_keeps_the_total_under_capacity() -> None:
    lru: BoundedLru[str, bytes] = BoundedLru(10, len)
    lru.put("six", b"x" * 6)
    lru.put("four", b"x" * 4)
    assert lru.weight == 10
    lru.put("three", b"x" * 3)  # 13 > 10: the oldest ("six") is evicted
    assert lru.get("six") is None
    assert lru.weight == 7 and len(lru) == 2


def test_refuses_a_value_heavier_than_the_whole_capacity() -> None:
    lru: BoundedLru[str, bytes] = BoundedLru(4, len)
    lru.put("small", b"ab")
    lru.put("huge", b"x" * 5)
    assert lru.get("huge") is None
    assert lru.get("small") == b"ab"


def test_putting_a_key_again_replaces_its_weight() -> None:
    lru: BoundedLru[str, bytes] = BoundedLru(10, len)
    lru.put("k", b"x" * 8)
    lru.put("k", b"x" * 2)
    assert lru.weight == 2 and lru.get("k") == b"xx"


def test_zero_capacity_keeps_nothing() -> None:
    lru: BoundedLru[str, bytes] = BoundedLru(0, len)
    lru.put("k", b"x")
    assert lru.get("k") is None and len(lru) == 0
