"""Whether a webhook URL may be called: checked at submit, and again at every delivery.

A host is resolved in a worker thread (``getaddrinfo`` blocks), a few at a time and never for
long; every address it resolves to must be public unless private targets are allowed
(docs/ARCHITECTURE.md, "Webhooks").
"""

from __future__ import annotations

import ipaddress
import socket
from functools import partial

import anyio
import anyio.to_thread

from app.core.exceptions import InvalidRequest
from app.core.webhooks import IpAddress, WebhookTarget, parse_webhook_url, refused_address

_RESOLVE_SECONDS = 3.0
# Threads that may resolve names at once: a slow resolver cannot take the pool the database
# calls run in.
_RESOLVERS = 8


class WebhookRefused(Exception):
    """Raised when a webhook URL may not be called; the message says why, for its client."""


class WebhookTargets:
    """Checks webhook URLs: their form, that a secret signs them, where their host resolves."""

    def __init__(self, *, enabled: bool, allow_private: bool) -> None:
        self._enabled = enabled
        self._allow_private = allow_private
        self._resolvers = anyio.CapacityLimiter(_RESOLVERS)

    async def check(self, url: str | None) -> None:
        """Refuse a submitted ``webhook_url`` that may not be called (``InvalidRequest``)."""
        if url is None:
            return
        try:
            if not self._enabled:
                raise WebhookRefused("webhook_url needs PIXY_WEBHOOK_SECRET on the server")
            target = self._parse(url)
            await self.addresses(target)
        except WebhookRefused as exc:
            error = {"loc": ["body", "webhook_url"], "msg": str(exc), "type": "value_error"}
            raise InvalidRequest(str(exc), extra={"errors": [error]}) from None

    async def addresses(self, target: WebhookTarget) -> list[IpAddress]:
        """The addresses ``target``'s host resolves to, all allowed; ``WebhookRefused`` if not."""
        resolve = partial(socket.getaddrinfo, target.host, target.port, type=socket.SOCK_STREAM)
        try:
            with anyio.fail_after(_RESOLVE_SECONDS):
                infos = await anyio.to_thread.run_sync(
                    resolve, abandon_on_cancel=True, limiter=self._resolvers
                )
        except TimeoutError:
            raise WebhookRefused("webhook_url's host did not resolve in time") from None
        except (OSError, UnicodeError):
            raise WebhookRefused("webhook_url's host does not resolve") from None
        found = list(dict.fromkeys(_address(str(info[4][0])) for info in infos))
        if not found:
            raise WebhookRefused("webhook_url's host does not resolve")
        if not self._allow_private:
            for address in found:
                reason = refused_address(address)
                if reason is not None:
                    raise WebhookRefused(
                        f"webhook_url's host resolves to a {reason} address ({address})"
                    )
        return found

    @staticmethod
    def _parse(url: str) -> WebhookTarget:
        try:
            return parse_webhook_url(url)
        except ValueError as exc:
            raise WebhookRefused(str(exc)) from None


def _address(text: str) -> IpAddress:
    """An address as ``getaddrinfo`` gives it, without an IPv6 zone (``fe80::1%eth0``)."""
    return ipaddress.ip_address(text.split("%", 1)[0])
