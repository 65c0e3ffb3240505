"""Builds the app from settings: the one place that wires concrete parts together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import boto3
import openai
import structlog
from botocore.config import Config
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from app.core.callers import key_id
from app.core.exceptions import ConfigurationError, PixyProxyException
from app.core.interfaces import BlobStore, ContentLinker, ImageGenerator, Presigner
from app.core.log_setup import configure_logging
from app.core.settings import Settings, get_settings, webhook_key
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.data.cdn_cloudfront import CloudFrontInvalidator
from app.data.database import Database, open_database, refusal_hint
from app.data.deletion_repository import SqlDeletionRepository
from app.data.image_repository import SqlImageRepository
from app.data.init import init_database
from app.data.job_repository import SqlJobRepository
from app.data.rendition_repository import SqlRenditionRepository
from app.data.usage_repository import SqlUsageRepository
from app.data.webhook_repository import SqlWebhookRepository
from app.service.byte_budget import ByteBudget
from app.service.cache_eviction import DeletionFeed
from app.service.content_links import PresignedLinks, PublicBaseLinks
from app.service.cursors import CursorCodec
from app.service.deletion import ImageDeletion
from app.service.deletion_cleanup import Cleanups
from app.service.generation import ImageKeeper
from app.service.generators import offline
from app.service.generators.offline import OfflineImageGenerator
from app.service.generators.openai import OpenAIImageGenerator
from app.service.image_reading import ImageReader
from app.service.job_events import JobEvents
from app.service.job_runner import JobRunner, RunnerSettings
from app.service.job_watcher import JobWatcher
from app.service.jobs import JobService
from app.service.options import ModelCatalog
from app.service.readiness import Readiness
from app.service.retention import RetentionSweep
from app.service.services import Services
from app.service.usage import UsageService
from app.service.usage_catch_up import UsageCatchUp
from app.service.variants import VariantSettings
from app.service.webhook_targets import WebhookTargets
from app.service.webhooks import DispatcherSettings, WebhookDispatcher
from app.web.errors import handle_exception
from app.web.exposure import watch_listening_sockets
from app.web.http_limits import HeadLimitMiddleware
from app.web.jobs_view import job_json
from app.web.methods import HeadAsGetMiddleware
from app.web.request_guard import RequestGuardMiddleware
from app.web.request_log import RequestLogMiddleware
from app.web.routers import (
    deletion,
    gallery,
    generation,
    health,
    images,
    jobs,
    metrics,
    models,
    usage,
)
from app.web.routers.docs import add_docs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = structlog.get_logger(__name__)


def _s3_client(settings: Settings, endpoint_url: str | None) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.s3_region,
        config=Config(
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=settings.database_pool_size * 2,
            connect_timeout=5,
            read_timeout=30,
        ),
    )


@dataclass(frozen=True)
class StoreParts:
    """The store that the settings name, what it can sign (a bucket), and how to prepare it."""

    store: BlobStore
    presigner: Presigner | None
    prepare: Callable[[], None]


def build_store(settings: Settings) -> StoreParts:
    """The blob store that ``PIXY_STORAGE_URL`` names."""
    scheme, _, rest = settings.storage_url.partition("://")
    if scheme == "file" and rest:
        folder = LocalBlobStore(Path(rest))
        return StoreParts(folder, presigner=None, prepare=folder.ensure_ready)
    if scheme == "s3" and rest.split("/", 1)[0]:
        bucket, _, prefix = rest.partition("/")
        client = _s3_client(settings, settings.s3_endpoint_url)
        signing_client = None
        if settings.s3_public_endpoint_url:
            signing_client = _s3_client(settings, settings.s3_public_endpoint_url)
        s3 = S3BlobStore(client, bucket, prefix, signing_client=signing_client)
        prepare = partial(
            s3.ensure_ready, create=settings.s3_create_bucket, region=settings.s3_region
        )
        return StoreParts(s3, presigner=s3, prepare=prepare)
    raise ConfigurationError("PIXY_STORAGE_URL must be file://<folder> or s3://<bucket>[/<prefix>]")


def build_linker(settings: Settings, presigner: Presigner | None) -> ContentLinker | None:
    """Where redirect mode sends clients, or None when content is streamed."""
    if settings.content_delivery == "stream":
        return None
    if settings.public_base_url:
        return PublicBaseLinks(settings.public_base_url)
    if presigner is not None:
        return PresignedLinks(presigner, ttl=settings.presign_ttl)
    raise ConfigurationError(
        "PIXY_CONTENT_DELIVERY=redirect needs a bucket (PIXY_STORAGE_URL=s3://...) "
        "or PIXY_PUBLIC_BASE_URL: a local folder has no URL to redirect to"
    )


def build_generator(settings: Settings) -> ImageGenerator:
    """The generator that ``PIXY_GENERATOR`` names."""
    if settings.generator == "offline":
        return OfflineImageGenerator(size=settings.openai_size)
    api_key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if not api_key:
        raise ConfigurationError("PIXY_GENERATOR=openai needs OPENAI_API_KEY")
    client = openai.AsyncOpenAI(
        api_key=api_key,
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        max_retries=0,  # a retried generation may be billed twice
        # The SDK's aiohttp transport: its default (httpx2) checks every open connection each
        # time a request ends, so a burst of 100 generations finished seconds late once their
        # connections were kept; aiohttp parses in C and keeps them cheaply. Measured on 100
        # concurrent generations: a quarter less CPU, 1.55 s -> 1.4 s against a 1 s provider.
        http_client=openai.DefaultAioHttpClient(),
    )
    return OpenAIImageGenerator(
        client, size=settings.openai_size, partial_images=settings.partial_images
    )


def build_catalog(settings: Settings) -> ModelCatalog:
    """What a POST may ask of the generator ``PIXY_GENERATOR`` names.

    The offline generator offers itself alone, as the model its images record, with what it
    honours: a POST naming an OpenAI model there is refused rather than drawn offline.
    """
    if settings.generator == "offline":
        return ModelCatalog(
            models=(offline.MODEL,),
            sizes=settings.openai_model_sizes,
            prices={},
            qualities=offline.QUALITIES,
            backgrounds=offline.BACKGROUNDS,
            applied_quality=offline.QUALITIES[0],
        )
    return ModelCatalog(
        models=settings.models(),
        sizes=settings.openai_model_sizes,
        prices=settings.openai_prices,
    )


@dataclass
class DataParts:
    """The database, with its schema applied, and the store, ready for use."""

    database: Database
    images: SqlImageRepository
    store: BlobStore
    presigner: Presigner | None

    def close(self) -> None:
        """Close pooled database connections."""
        self.images.close()


def open_data(settings: Settings) -> DataParts:
    """Open the database and the store that the settings name (blocking)."""
    database = open_database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        init_database(database)
        store = build_store(settings)
        store.prepare()
    except BaseException:
        database.close()
        raise
    images = SqlImageRepository(database, listing_timeout=settings.listing_timeout)
    return DataParts(database, images, store.store, store.presigner)


@dataclass(frozen=True)
class DeletionParts:
    """Deleting images, and the loops that finish deletions, evict caches and apply retention."""

    deletion: ImageDeletion
    loops: tuple[Callable[[], Coroutine[Any, Any, None]], ...]


def build_deletion(
    settings: Settings, data: DataParts, reader: ImageReader, *, owner: str
) -> DeletionParts:
    """Deleting images on these settings (docs/ARCHITECTURE.md, "Deletion")."""
    repository = SqlDeletionRepository(data.database)
    distribution = settings.cloudfront_distribution_id
    cleanups = Cleanups(
        repository=repository,
        store=data.store,
        cdn=CloudFrontInvalidator(distribution) if distribution else None,
        retry_seconds=settings.deletion_retry_seconds,
    )
    deletion = ImageDeletion(
        repository=repository, cleanups=cleanups, forget=reader.forget, cdn=bool(distribution)
    )
    feed = DeletionFeed(
        repository,
        forget=reader.forget,
        forget_all=reader.forget_all,
        interval=settings.cache_staleness_seconds,
    )
    loops: list[Callable[[], Coroutine[Any, Any, None]]] = [cleanups.run, feed.run]
    if settings.retention_days > 0 or settings.job_retention_days > 0:
        sweep = RetentionSweep(
            repository=repository,
            deletion=deletion,
            image_days=settings.retention_days,
            job_days=settings.job_retention_days,
            interval=settings.retention_interval_seconds,
            owner=owner,
        )
        loops.append(sweep.run)
    return DeletionParts(deletion, tuple(loops))


def _build_services(settings: Settings, data: DataParts, generator: ImageGenerator) -> Services:
    cursors = CursorCodec(settings.cursor_secret.get_secret_value().encode())
    reader = ImageReader(
        repository=data.images,
        store=data.store,
        cursors=cursors,
        linker=build_linker(settings, data.presigner),
        content_cache_bytes=settings.content_cache_bytes,
        renditions=SqlRenditionRepository(data.database),
        variants=VariantSettings(
            widths=settings.variant_widths,
            concurrency=settings.variant_concurrency,
            max_pixels=settings.variant_max_pixels,
        ),
    )
    jobs_repository = SqlJobRepository(data.database)
    runner: JobRunner | None = None
    watcher = JobWatcher(jobs_repository, poll_seconds=settings.job_poll_seconds)

    def wake_runner() -> None:
        if runner is not None:
            runner.wake()

    catalog = build_catalog(settings)
    usage_records = SqlUsageRepository(data.database)
    jobs = JobService(
        jobs=jobs_repository,
        images=data.images,
        catalog=catalog,
        queue_limit=settings.job_queue_limit,
        hourly_limit=settings.key_images_per_hour,
        idempotency_ttl=timedelta(hours=settings.idempotency_ttl_hours),
        watcher=watcher,
        wake_runner=wake_runner,
    )

    keeper = ImageKeeper(
        store=data.store,
        jobs=jobs_repository,
        images=data.images,
        cost_microusd=catalog.cost_microusd,
    )

    runner = JobRunner(
        jobs=jobs_repository,
        generator=generator,
        keeper=keeper,
        budget=ByteBudget(settings.image_memory_bytes),
        runner_id=runner_identity(),
        settings=RunnerSettings(
            concurrency=settings.job_concurrency,
            lease_seconds=settings.job_lease_seconds,
            poll_seconds=settings.job_poll_seconds,
            max_attempts=settings.job_max_attempts,
            persist_retry_seconds=settings.job_persist_retry_seconds,
        ),
        on_change=watcher.changed,
    )
    readiness = Readiness({"database": data.images.ping, "store": data.store.check})
    deleting = build_deletion(settings, data, reader, owner=runner.runner_id)
    return Services(
        reader=reader,
        jobs=jobs,
        runner=runner,
        readiness=readiness,
        events=JobEvents(
            jobs=jobs_repository,
            watcher=watcher,
            view=jobs.view,
            owned=jobs.owned,
            read=keeper.read_partial,
            keepalive_seconds=settings.events_keepalive_seconds,
        ),
        watcher=watcher,
        usage=UsageService(
            source=usage_records,
            names={key_id(key.key): key.name for key in settings.named_keys if key.name},
        ),
        catalog=catalog,
        sync_wait_seconds=settings.sync_wait_seconds,
        webhook_targets=WebhookTargets(
            enabled=settings.webhook_secret is not None,
            allow_private=settings.webhook_allow_private,
        ),
        deletion=deleting.deletion,
        background=(*deleting.loops, UsageCatchUp(usage_records).run),
    )


def build_dispatcher(
    settings: Settings, data: DataParts, services: Services
) -> WebhookDispatcher | None:
    """The replica's webhook dispatcher, or None without PIXY_WEBHOOK_SECRET (nothing to sign)."""
    if settings.webhook_secret is None:
        return None
    return WebhookDispatcher(
        deliveries=SqlWebhookRepository(data.database),
        jobs=SqlJobRepository(data.database),
        view=services.jobs.view,
        render=job_json,
        targets=services.webhook_targets,
        settings=DispatcherSettings(
            key=webhook_key(settings.webhook_secret),
            retry_schedule=settings.webhook_retry_schedule,
        ),
        owner=services.runner.runner_id,
    )


def runner_identity() -> str:
    """This process among the replicas, as lease owner: host, process id and a random tail."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.check_exposure()
    try:
        data = await anyio.to_thread.run_sync(open_data, settings)
    except PixyProxyException as exc:
        # What went wrong, and the driver's own words for it, on one line (log only: the
        # cause may name hosts and users).
        cause = exc.__cause__
        log.error(
            "startup_failed",
            error=exc.code,
            detail=exc.detail,
            hint=refusal_hint(cause),
            cause=cause and str(cause),
        )
        raise
    generator = build_generator(settings)
    services = _build_services(settings, data, generator)
    app.state.services = services
    app.state.on_drain.append(services.runner.stop_claiming)
    runner = asyncio.create_task(services.runner.run(), name="job-runner")
    watcher = asyncio.create_task(services.watcher.run(), name="job-watcher")
    dispatcher = build_dispatcher(settings, data, services)
    webhooks = None
    if dispatcher is not None:
        webhooks = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
    loops = [asyncio.create_task(loop()) for loop in services.background]
    _freeze_startup_objects()
    log.info(
        "service_ready",
        database=data.database.dialect,
        storage=type(data.store).__name__,
        generator=settings.generator,
        auth="on" if settings.api_keys else "off",
        content_delivery=settings.content_delivery,
        runner=services.runner.runner_id,
    )
    # PIXY_HOST is not where `uvicorn --host` or gunicorn bind: check the sockets themselves.
    exposure_watch = asyncio.create_task(watch_listening_sockets(settings))
    try:
        yield
    finally:
        exposure_watch.cancel()
        gc.unfreeze()
        await services.runner.drain(settings.shutdown_grace_seconds)
        for task in (runner, watcher, *loops):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if dispatcher is not None and webhooks is not None:
            await dispatcher.stop()
            webhooks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await webhooks
        await generator.close()
        data.close()


def _freeze_startup_objects() -> None:
    """Keep what start-up built out of the garbage collector's full passes while serving.

    A full pass scans every object that imports and clients made, and a listing load sets one off
    several times a second: most of the listing's p99 was these passes (see README,
    Performance). Frozen, the passes scan only what requests made.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the ASGI app; its parts are created when it starts, not at import."""
    settings = settings or get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    app = FastAPI(
        title="PixyProxy",
        version="0.1.0",
        summary="Images generated from text prompts, stored, and served back.",
        lifespan=_lifespan,
        redirect_slashes=False,
        docs_url=None,  # served with local files by app.web.routers.docs
        redoc_url=None,
        # Requests are logged and counted by PixyProxy itself (structlog, Prometheus). FastAPI's
        # own OpenTelemetry would look up the global providers on every request to find none.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.shutting_down = False
    app.state.on_drain = []  # called when SIGTERM starts the drain (see app.__main__)
    # Routes are matched in order: the image routes, which take nearly all traffic, first.
    add_routes_unnested(app, images.router)
    app.include_router(generation.router)
    app.include_router(deletion.router)
    app.include_router(jobs.router)
    app.include_router(usage.router)
    app.include_router(models.router)
    app.include_router(health.router)
    app.include_router(gallery.router)
    add_docs(app)
    app.mount("/static", gallery.static_assets(), name="static")
    if settings.metrics_enabled and settings.metrics_port is None:
        app.include_router(metrics.router)
    for handled in (PixyProxyException, RequestValidationError, HTTPException):
        app.add_exception_handler(handled, handle_exception)
    app.add_middleware(HeadAsGetMiddleware)  # innermost: HEAD on every GET route
    app.add_middleware(RequestGuardMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadLimitMiddleware, max_bytes=settings.max_header_bytes)
    app.add_middleware(RequestLogMiddleware)  # outermost: logs and answers for all within
    return app


def add_routes_unnested(app: FastAPI, router: APIRouter) -> None:
    """Put a router's routes on the app's own router, where each request matches them once.

    FastAPI keeps an included router nested and matches its routes twice a request, a cost the
    hot reads measurably paid. ``app.dependency_overrides`` would not reach routes added this way,
    so they may have no dependencies at all (parameters and the request are fine).
    """
    for route in router.routes:
        if isinstance(route, APIRoute) and route.dependant.dependencies:
            raise TypeError(f"{route.path} has dependencies: include its router instead")
    app.router.routes.extend(router.routes)


@cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> FastAPI:
    """``app.main:app`` for ASGI servers, built on first use rather than on import."""
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
