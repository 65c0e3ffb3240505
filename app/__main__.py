"""``python -m app``: serve PixyProxy with uvicorn, from the settings."""

from __future__ import annotations

import sys

import uvicorn

from app.core.exceptions import ConfigurationError
from app.core.settings import get_settings


def main() -> int:
    """Start the server; refuse with a one-line reason when the settings are unsafe."""
    settings = get_settings()
    try:
        settings.check_exposure()
    except ConfigurationError as exc:
        print(f"pixyproxy: {exc.detail}", file=sys.stderr)
        return 2
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
