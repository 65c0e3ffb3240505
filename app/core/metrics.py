"""Prometheus metrics of the service, defined once; the layers observe them.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's own
variable) to an empty folder before the workers start: each process then writes its samples
there and ``/metrics`` merges them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

HTTP_REQUESTS = Counter(
    "pixyproxy_http_requests",
    "HTTP requests answered, by route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "pixyproxy_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=_FAST,
)
GENERATIONS = Counter(
    "pixyproxy_generations", "Image generations, by outcome (ok or a problem code).", ["outcome"]
)
GENERATION_DURATION = Histogram(
    "pixyproxy_generation_duration_seconds",
    "Time to generate, check and store one image, by outcome.",
    ["outcome"],
    buckets=_SLOW,
)
JOBS = Counter(
    "pixyproxy_jobs",
    "Generation jobs that reached a status (queued, running, succeeded, failed, requeued).",
    ["status"],
)
JOB_QUEUE_DEPTH = Gauge(
    "pixyproxy_job_queue_depth",
    "Jobs waiting to be claimed, as this replica last counted them.",
    multiprocess_mode="max",
)
JOBS_RUNNING = Gauge(
    "pixyproxy_jobs_running", "Jobs this process is running.", multiprocess_mode="livesum"
)
JOB_QUEUED_DURATION = Histogram(
    "pixyproxy_job_queued_seconds",
    "Time from a job's submission to its first claim.",
    buckets=_SLOW,
)
JOB_ATTEMPTS = Histogram(
    "pixyproxy_job_attempts",
    "Attempts a job took, observed when it finishes.",
    buckets=(1, 2, 3, 4, 5, 10),
)
PROVIDER_DURATION = Histogram(
    "pixyproxy_provider_call_duration_seconds",
    "Time of one call to the image provider, by outcome (ok or a problem code).",
    ["outcome"],
    buckets=_SLOW,
)
PROVIDER_TOKENS = Counter(
    "pixyproxy_provider_tokens",
    "Tokens the image provider counted, by model and kind (text_input, image_input, output).",
    ["model", "kind"],
)
IMAGE_COST = Counter(
    "pixyproxy_image_cost_usd",
    "Estimated cost of the images made, in US dollars, by model.",
    ["model"],
)
JOB_WATCHES = Gauge(
    "pixyproxy_job_watches",
    "Event streams and synchronous requests of this process waiting on a job.",
    multiprocess_mode="livesum",
)
EVENT_POLLS = Counter(
    "pixyproxy_job_event_polls",
    "Database queries the job watcher made for every waiting stream and request at once.",
)
BUDGET_BYTES = Gauge(
    "pixyproxy_image_budget_bytes",
    "Bytes of provider answers admitted by the memory budget right now.",
    multiprocess_mode="livesum",
)
BUDGET_WAITERS = Gauge(
    "pixyproxy_image_budget_waiters",
    "Jobs waiting for the memory budget to admit their answer.",
    multiprocess_mode="livesum",
)
WEBHOOK_DELIVERIES = Counter(
    "pixyproxy_webhook_deliveries",
    "Webhook delivery attempts, by outcome: delivered, retry (another attempt follows) or"
    " failed (the last one).",
    ["outcome"],
)
IMAGES_DELETED = Counter(
    "pixyproxy_images_deleted",
    "Images deleted, by reason (request: DELETE /image/{guid}; retention: the sweep).",
    ["reason"],
)
DELETION_CLEANUPS = Counter(
    "pixyproxy_deletion_cleanups",
    "Work left by deletions (kind object or cdn), by outcome (done, or failed: retried later).",
    ["kind", "outcome"],
)
DELETION_CLEANUPS_PENDING = Gauge(
    "pixyproxy_deletion_cleanups_pending",
    "Objects to remove and CDN invalidations that deletions left in the outbox, not done yet.",
    multiprocess_mode="livemax",
)
CDN_INVALIDATIONS = Counter(
    "pixyproxy_cdn_invalidations",
    "CloudFront invalidations asked for deleted images, by outcome (ok or failed).",
    ["outcome"],
)
CACHE_EVICTIONS = Counter(
    "pixyproxy_cache_evictions",
    "Deleted images evicted from this process's caches; polls that failed clear them all.",
    ["cause"],
)
CONTENT_BYTES = Counter("pixyproxy_content_bytes_sent", "Image bytes sent to clients.")
DATABASE_DURATION = Histogram(
    "pixyproxy_database_call_duration_seconds",
    "Time of one database statement, by kind (select, insert, update, delete).",
    ["statement"],
    buckets=_FAST,
)
STORE_DURATION = Histogram(
    "pixyproxy_store_call_duration_seconds",
    "Time of one blob store call, by operation.",
    ["operation"],
    buckets=_FAST,
)


@functools.lru_cache(maxsize=4096)
def series(metric: Counter | Histogram, *values: str) -> Any:
    """The time series of ``metric`` with these label values (in label order).

    prometheus-client's ``labels()`` costs several microseconds a call; label values here come
    from short fixed sets (routes, statuses, statement kinds), so each series is looked up once.
    """
    return metric.labels(*values)


@contextmanager
def timed(histogram: Histogram, *label_values: str) -> Iterator[None]:
    """Observe how long the block takes."""
    started = time.perf_counter()
    try:
        yield
    finally:
        series(histogram, *label_values).observe(time.perf_counter() - started)


def timed_store_call(operation: str) -> Callable[[Callable[_P, _T]], Callable[_P, _T]]:
    """Decorate a blob store method so that its calls are timed."""

    def decorate(method: Callable[_P, _T]) -> Callable[_P, _T]:
        @functools.wraps(method)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            with timed(STORE_DURATION, operation):
                return method(*args, **kwargs)

        return wrapper

    return decorate


def registry() -> CollectorRegistry:
    """The registry to expose: this process's, or every worker's when they write to a folder."""
    # prometheus-client itself reads this variable when it creates values; so do we, to match.
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


def exposition() -> tuple[bytes, str]:
    """The current samples in Prometheus text format."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST
