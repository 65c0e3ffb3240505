"""Webhook targets: which URLs a job may be delivered to (docs/ARCHITECTURE.md, "Webhooks").

A URL is checked twice: its form when the request is read (``parse_webhook_url``), and the
addresses its host resolves to (``refused_address``) at submit and again at every delivery,
since a name may resolve elsewhere by then.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class WebhookTarget:
    """Where a webhook goes: its scheme, host (a name or an address) and port."""

    url: str
    scheme: str
    host: str
    port: int


def parse_webhook_url(url: str) -> WebhookTarget:
    """The target of an ``http(s)`` URL with a host; ``ValueError`` saying what is wrong."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("webhook_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("webhook_url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("webhook_url must be an http or https URL")
    if not parts.hostname:
        raise ValueError("webhook_url must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("webhook_url must not carry credentials")
    default = 443 if scheme == "https" else 80
    return WebhookTarget(url=url, scheme=scheme, host=parts.hostname, port=port or default)


def refused_address(address: IpAddress) -> str | None:
    """Why a webhook may not be sent to this address (private, loopback...), or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not public"),
    )
    return next((reason for refused, reason in checks if refused), None)


@dataclass(frozen=True)
class WebhookDelivery:
    """A delivery claimed for an attempt: a row of ``webhook_deliveries``.

    ``attempts`` counts this attempt; ``payload`` is the body an earlier attempt sent, if any.
    """

    id: str
    job_id: UUID
    url: str
    attempts: int
    payload: str | None
