"""Readiness: whether this replica's dependencies answer, for ``/readyz``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio
import anyio.to_thread

from app.core.exceptions import NotReady, PixyProxyException

_TIMEOUT_SECONDS = 3.0


class Readiness:
    """Checks each dependency (blocking calls that raise when it does not answer) in turn."""

    def __init__(self, checks: Mapping[str, Callable[[], None]]) -> None:
        self._checks = dict(checks)

    async def check(self) -> None:
        """Raise ``NotReady`` unless every dependency answers within a few seconds."""
        for name, check in self._checks.items():
            try:
                with anyio.fail_after(_TIMEOUT_SECONDS):
                    await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
            except (PixyProxyException, TimeoutError) as exc:
                raise NotReady(f"the {name} is not reachable") from exc
