"""Where clients can fetch image bytes without going through PixyProxy (redirect mode)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote

from app.core.content import ContentLink
from app.core.interfaces import Presigner

PUBLIC_BASE_MAX_AGE = 86_400
_CACHE_ENTRIES = 10_000


class PresignedLinks:
    """Presigned bucket URLs, the same URL for a key throughout a signing window.

    A URL signed in window ``n`` (``ttl / 2`` seconds long) is handed out until the window ends,
    so every URL handed out still lives at least ``ttl / 2`` seconds, and caches see one URL per
    key per window instead of a new one per request. The redirect may be cached only as long as
    the URL it points to still lives.
    """

    def __init__(
        self, presigner: Presigner, *, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._presigner = presigner
        self._clock = clock
        self._ttl = ttl
        self._window = max(1, ttl // 2)
        self._signed: OrderedDict[tuple[str, int], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def link(self, key: str) -> ContentLink:
        """The URL for ``key`` in the current window, signing it if this is the first ask."""
        now = self._clock()
        slot = (key, int(now // self._window))
        with self._lock:
            cached = self._signed.get(slot)
            if cached is not None:
                self._signed.move_to_end(slot)
        if cached is None:
            cached = (self._presigner.presigned_url(key, expires_in=self._ttl), now)
            with self._lock:
                self._signed[slot] = cached
                while len(self._signed) > _CACHE_ENTRIES:
                    self._signed.popitem(last=False)
        url, signed_at = cached
        # A small margin, so that a cache never serves a redirect to a URL that just expired.
        lives_for = signed_at + self._ttl - now
        return ContentLink(url=url, max_age=max(0, int(lives_for * 0.9)))


class PublicBaseLinks:
    """URLs under a public base (a CDN in front of the bucket or the folder)."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")

    def link(self, key: str) -> ContentLink:
        """The base URL followed by the object key."""
        return ContentLink(url=f"{self._base}/{quote(key)}", max_age=PUBLIC_BASE_MAX_AGE)
