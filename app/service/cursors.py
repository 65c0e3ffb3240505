"""Opaque listing cursors: the guid of a page's last image, signed so edits are refused.

The signature makes a hand-edited or truncated cursor a clear 422 rather than a silent jump to
another place in the listing. It is not a secret: set ``PIXY_CURSOR_SECRET`` to the same value on
every replica so that cursors from one are accepted by the others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from uuid import UUID

from app.core.exceptions import InvalidRequest

_SIGNATURE_BYTES = 12
PATTERN = r"^[A-Za-z0-9_-]{37}[AQgw]$"
"""The shape of what ``CursorCodec`` writes, for the schema: 28 bytes (a guid and the
signature) in unpadded base64url, 38 characters whose last carries 2 bits."""
REFUSED = "the cursor is malformed or was altered"
"""What any cursor the service did not write gets told, however it differs."""


class CursorCodec:
    """Turns a guid into a cursor and back."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, guid: UUID) -> str:
        """A cursor that continues after the image ``guid``."""
        payload = guid.bytes
        return _b64(payload + self._sign(payload))

    def decode(self, cursor: str) -> UUID:
        """The guid inside ``cursor``, or ``InvalidRequest`` if it is malformed or was edited."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise _refused() from exc
        payload, signature = raw[:16], raw[16:]
        if len(payload) != 16 or not hmac.compare_digest(signature, self._sign(payload)):
            raise _refused()
        return UUID(bytes=payload)

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _refused() -> InvalidRequest:
    # Located where the listing's query check puts a cursor of the wrong shape, with the same
    # words: a client cannot tell, and need not, which check refused it.
    error = {"loc": ["query", "cursor"], "msg": REFUSED, "type": "value_error"}
    return InvalidRequest(REFUSED, extra={"errors": [error]})
