"""Usage reports for a key, or for every key when an operator asks."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread

from app.core.callers import Caller
from app.core.exceptions import Forbidden
from app.core.interfaces import UsageRepository
from app.core.usage import DayUsage, KeyUsage, ModelUsage, UsageReport, UsageRow, UsageTotals

_K = TypeVar("_K", bound=Hashable)
EVERY_KEY = "all"
"""What an operator passes as ``key`` to sum every key."""


class UsageService:
    """Builds usage reports; keys show by their non-secret id and the name settings give."""

    def __init__(self, *, source: UsageRepository, names: Mapping[str, str]) -> None:
        self._source = source
        self._names = dict(names)

    async def report(
        self,
        caller: Caller,
        *,
        key: str | None,
        since: datetime | None,
        until: datetime | None,
    ) -> UsageReport:
        """The caller's usage; with ``key``, an operator's view of another key or of all."""
        owner: str | None = caller.id
        if key is not None and key != caller.id:
            if not caller.admin:
                raise Forbidden("only an operator key may see another key's usage")
            owner = None if key == EVERY_KEY else key
        usage = partial(self._source.usage, owner=owner, since=since, until=until)
        rows = await anyio.to_thread.run_sync(usage)
        by_key = None
        if owner is None:
            by_key = [
                KeyUsage(key=name, name=self._names.get(name or ""), **totals)
                for name, totals in _grouped(rows, lambda row: row.owner)
            ]
        return UsageReport(
            key=owner,
            name=self._names.get(owner) if owner else None,
            **{"from": since},
            to=until,
            total=UsageTotals(**_sums(rows)),
            by_model=[
                ModelUsage(model=model, **totals)
                for model, totals in _grouped(rows, lambda row: row.model)
            ],
            by_day=[DayUsage(day=day, **totals) for day, totals in _grouped(rows, lambda r: r.day)],
            by_key=by_key,
        )


def _grouped(
    rows: Iterable[UsageRow], key: Callable[[UsageRow], _K]
) -> list[tuple[_K, dict[str, Any]]]:
    groups: dict[_K, list[UsageRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return sorted(
        ((name, _sums(members)) for name, members in groups.items()),
        key=lambda item: (item[0] is None, str(item[0])),
    )


def _sums(rows: Iterable[UsageRow]) -> dict[str, Any]:
    rows = list(rows)
    return {
        "images": sum(row.images for row in rows),
        "text_input_tokens": sum(row.text_input_tokens for row in rows),
        "image_input_tokens": sum(row.image_input_tokens for row in rows),
        "output_tokens": sum(row.output_tokens for row in rows),
        "cost_usd": sum(row.cost_microusd for row in rows) / 1_000_000,
    }
