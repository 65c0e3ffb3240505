"""What routes need besides their parameters: the app's services and the API-key check.

The services are read from the app by plain functions, not FastAPI dependencies: resolving a
dependency costs a hot read a measurable share of its time just to fetch an attribute.
The dependencies are ``async`` although none of them waits: FastAPI runs plain functions in the
thread pool, a hop per dependency per request for nothing.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.core.callers import ANONYMOUS, Caller, key_id
from app.core.exceptions import InvalidRequest, NotAuthenticated, UnsupportedMediaType
from app.core.settings import NamedKey, Settings
from app.service.image_reading import ImageReader
from app.service.jobs import JobService
from app.service.services import Services
from app.web.exposure import require_local_peer

_bearer = HTTPBearer(auto_error=False, description="An API key from PIXY_API_KEYS.")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key from PIXY_API_KEYS."
)


async def app_settings(request: Request) -> Settings:
    """The settings the running app was built with (not the process's: tests build several)."""
    settings: Settings = request.app.state.settings
    return settings


def services_of(request: Request) -> Services:
    """The services of the app serving ``request`` (built when it started)."""
    services: Services = request.app.state.services
    return services


def reader_of(request: Request) -> ImageReader:
    """Reading images and their content, for the app serving ``request``."""
    return services_of(request).reader


def jobs_of(request: Request) -> JobService:
    """Generation jobs, for the app serving ``request``."""
    return services_of(request).jobs


async def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=255,
            pattern=r"^[\x21-\x7e]+$",
            description="Repeat a POST safely: the same key and body return the first result.",
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key header, checked to be printable ASCII and sent once."""
    if key is not None and len(request.headers.getlist("idempotency-key")) > 1:
        raise InvalidRequest("send one Idempotency-Key header, not several")
    return key


def matching_key(candidate: str, keys: tuple[NamedKey, ...]) -> NamedKey | None:
    """The configured key ``candidate`` is, compared against every one in constant time, so
    that timing tells nothing about any of them."""
    given = candidate.encode("utf-8")
    found: NamedKey | None = None
    for key in keys:
        if hmac.compare_digest(given, key.key.encode("utf-8")):
            found = key
    return found


async def require_api_key(
    request: Request,
    settings: Annotated[Settings, Depends(app_settings)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header_key: Annotated[str | None, Depends(_api_key_header)],
) -> Caller:
    """Let the request through only with a configured key (or when no keys are configured).

    Returns who is calling, for scoping what they do: the key's non-secret id and name, never
    the key.
    """
    keys = settings.named_keys
    if not keys:
        require_local_peer(request.scope)  # open only to this machine, however it is served
        return ANONYMOUS
    candidate = bearer.credentials if bearer else header_key
    found = matching_key(candidate, keys) if candidate else None
    if found is None:
        raise NotAuthenticated(
            "send a valid API key as 'Authorization: Bearer <key>' or 'X-API-Key'"
        )
    return Caller(id=key_id(found.key), name=found.name, admin=found.admin)


async def require_json_body(request: Request) -> None:
    """Refuse a body sent as anything but JSON, before trying to read it as JSON."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType("send the body as JSON with 'Content-Type: application/json'")


CallerDep = Annotated[Caller, Depends(require_api_key)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
JsonBodyDep = Depends(require_json_body)
