"""``python -m app`` (or ``pixyproxy``): serve, or reconcile the store with the database.

python -m app                      serve with uvicorn, from the settings
python -m app reconcile [--fix]    list objects without rows and rows without objects; with
                                   --fix, write the rows their jobs left unwritten and remove
                                   the objects no row will ever point at
python -m app backfill             measure images made before dimensions were recorded
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import start_http_server
from pydantic import ValidationError

from app.core.exceptions import ConfigurationError, PixyProxyException
from app.core.log_setup import configure_logging
from app.core.metrics import registry
from app.core.settings import Settings, get_settings
from app.data.job_repository import SqlJobRepository
from app.data.rendition_repository import SqlRenditionRepository
from app.main import create_app, open_data
from app.service.backfill import backfill
from app.service.reconcile import reconcile
from app.web.http_limits import LIMITED_PROTOCOL


class DrainingServer(uvicorn.Server):
    """On SIGTERM, fail readiness first and keep serving for a while, then stop gracefully.

    The load balancer sees /readyz fail and stops sending new requests before the server
    stops accepting them; requests in flight then get the configured grace period to finish.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_seconds = drain_seconds
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._draining or self._drain_seconds <= 0:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._app.state.shutting_down = True
        for hook in self._app.state.on_drain:  # the job runner stops claiming
            hook()
        timer = threading.Timer(self._drain_seconds, super().handle_exit, args=(sig, frame))
        timer.daemon = True
        timer.start()


def serve(settings: Settings) -> int:
    """Start the server; refuse with a one-line reason when the settings are unsafe."""
    try:
        settings.check_exposure()
    except ConfigurationError as exc:
        print(f"pixyproxy: {exc.detail}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": round(settings.shutdown_grace_seconds),
        # Heads bounded in size and time, connections in number (app/web/http_limits.py).
        "http": LIMITED_PROTOCOL,
        "timeout_keep_alive": settings.keep_alive_timeout,
    }
    if settings.workers > 1:
        # Workers are separate processes: their metrics meet in a shared folder.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="pixy-metrics-"))
        _serve_metrics_port(settings)
        uvicorn.run("app.main:create_app", factory=True, workers=settings.workers, **options)
        return 0
    app = create_app(settings)
    _serve_metrics_port(settings)
    server = DrainingServer(uvicorn.Config(app, **options), app, settings.shutdown_drain_seconds)
    server.run()
    return 0 if server.started else 1


def _serve_metrics_port(settings: Settings) -> None:
    """Serve /metrics on a port of its own, when the settings ask for one."""
    if settings.metrics_enabled and settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry())


def run_reconcile(settings: Settings, *, fix: bool, grace_seconds: float) -> int:
    """Print what is out of step between the store and the database; 1 if anything is left."""
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    data = open_data(settings)
    try:
        report = reconcile(
            images=data.images,
            store=data.store,
            renditions=SqlRenditionRepository(data.database),
            jobs=SqlJobRepository(data.database),
            fix=fix,
            grace=timedelta(seconds=grace_seconds),
        )
    finally:
        data.close()
    for orphan in report.orphan_objects:
        written = f"{orphan.modified:%Y-%m-%d %H:%M:%S}Z"
        print(f"object without row: {orphan.key} (written {written}, {report.actions[orphan.key]})")
    for key in report.rows_without_objects:
        print(f"row without object: {key} (restore the object, or decide about the row)")
    print(
        f"{report.objects} objects, {report.rows} rows: "
        f"{len(report.orphan_objects)} objects without rows ({len(report.removed)} removed), "
        f"{len(report.rows_without_objects)} rows without objects; "
        f"{len(report.repaired)} rows written from their jobs"
    )
    return 0 if report.consistent else 1


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it."""
    parser = argparse.ArgumentParser(prog="pixyproxy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve the HTTP API (the default)")
    check = commands.add_parser("reconcile", help="compare the store with the database")
    check.add_argument(
        "--fix",
        action="store_true",
        help="write the rows of objects whose jobs' runners died; remove objects no row will "
        "ever point at",
    )
    check.add_argument(
        "--grace-seconds",
        type=float,
        default=3600,
        help="only remove objects older than this (default 3600: younger ones may belong "
        "to a generation still in flight)",
    )
    commands.add_parser("backfill", help="measure images made before dimensions were recorded")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for line in settings_errors(exc):
            print(f"pixyproxy: {line}", file=sys.stderr)
        return 2
    try:
        if args.command == "reconcile":
            return run_reconcile(settings, fix=args.fix, grace_seconds=args.grace_seconds)
        if args.command == "backfill":
            return run_backfill(settings)
    except PixyProxyException as exc:
        print(f"pixyproxy: {exc.detail}", file=sys.stderr)
        return 2
    return serve(settings)


def settings_errors(exc: ValidationError) -> list[str]:
    """Each refused setting as the variable the user set and why (values are never repeated:
    one may be a secret)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        reason = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:
            lines.append(reason)  # a rule between settings: its message names them
            continue
        name = str(error["loc"][0]).upper()
        variable = name if name.startswith(("PIXY_", "OPENAI_")) else f"PIXY_{name}"
        lines.append(f"{variable}: {reason}")
    return lines


def run_backfill(settings: Settings) -> int:
    """Fill in the dimensions and sizes of older rows; 1 if some could not be read."""
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    data = open_data(settings)
    try:
        report = backfill(images=data.images, store=data.store)
    finally:
        data.close()
    for key in report.unreadable:
        print(f"could not read: {key}")
    print(f"{report.measured} images measured, {len(report.unreadable)} could not be read")
    return 0 if not report.unreadable else 1


if __name__ == "__main__":
    sys.exit(main())
