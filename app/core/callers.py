"""Who is calling: an API key's non-secret id, the name the settings gave it, its rights."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def key_id(key: str) -> str:
    """The non-secret id of an API key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Caller:
    """The caller of a private route; the key itself never travels past authentication."""

    id: str
    name: str | None = None
    admin: bool = False

    @property
    def label(self) -> str:
        """How reports show the caller: its name where one was given, else its id."""
        return self.name or self.id


ANONYMOUS = Caller(id="anonymous")
"""Every caller while the service runs open (no keys configured, loopback only)."""
