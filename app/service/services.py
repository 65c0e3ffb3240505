"""The services one app serves with, built once in ``app.main`` and handed to the routes."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from app.service.deletion import ImageDeletion
from app.service.image_reading import ImageReader
from app.service.job_events import JobEvents
from app.service.job_runner import JobRunner
from app.service.job_watcher import JobWatcher
from app.service.jobs import JobService
from app.service.options import ModelCatalog
from app.service.readiness import Readiness
from app.service.usage import UsageService
from app.service.webhook_targets import WebhookTargets


@dataclass(frozen=True)
class Services:
    """Every use case the web layer may call, typed: routes read them from here."""

    reader: ImageReader
    jobs: JobService
    runner: JobRunner
    readiness: Readiness
    events: JobEvents
    watcher: JobWatcher
    usage: UsageService
    catalog: ModelCatalog
    deletion: ImageDeletion
    sync_wait_seconds: float
    webhook_targets: WebhookTargets = field(
        default_factory=lambda: WebhookTargets(enabled=False, allow_private=False)
    )
    # Loops the app runs for its lifetime (deletion cleanups, cache eviction, retention).
    background: tuple[Callable[[], Coroutine[Any, Any, None]], ...] = ()
