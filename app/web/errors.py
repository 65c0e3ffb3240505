"""The single exception handler: every error becomes an RFC 9457 problem with the request id."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.core.exceptions import NotAuthenticated, PixyProxyException
from app.web.methods import allowed_methods
from app.web.problems import PROBLEM_MEDIA_TYPE, Problem, problem_type

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "invalid_body",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}
# What pydantic writes before the message of a ValueError raised by a validator.
_VALUE_ERROR_PREFIX = "Value error, "
# FastAPI's own words for a body it could not read ("There was an error parsing the body").
_INVALID_BODY = "the body could not be read as JSON: it is not UTF-8, or it is nested too deeply"


async def handle_exception(request: Request, exc: Exception) -> JSONResponse:
    """Render any exception as a problem response; unknown ones as a bare 500."""
    if isinstance(exc, PixyProxyException):
        return _pixyproxy_problem(request, exc)
    if isinstance(exc, RequestValidationError):
        return _problem(
            request,
            status=422,
            code="invalid_request",
            title="Invalid request",
            detail="The request did not match what this endpoint accepts.",
            errors=[_validation_error(error) for error in exc.errors()],
        )
    if isinstance(exc, HTTPException):
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        title = code.replace("_", " ").capitalize()
        detail = exc.detail if isinstance(exc.detail, str) else title
        headers = dict(exc.headers or {})
        if exc.status_code == 400:
            detail = _INVALID_BODY
        elif exc.status_code == 405:
            # Every method of the path, not only those of the route that matched first.
            allowed = allowed_methods(request.app.router.routes, request.scope)
            headers["Allow"] = ", ".join(allowed) or headers.get("Allow", "")
        return _problem(
            request, status=exc.status_code, code=code, title=title, detail=detail, headers=headers
        )
    log.error("unhandled_exception", exc_info=exc)
    return _problem(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="An unexpected error occurred; quote the request id when reporting it.",
    )


def _pixyproxy_problem(request: Request, exc: PixyProxyException) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    elif exc.status == 503:
        headers["Retry-After"] = "5"
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if exc.status >= 500:
        log.error("request_failed", code=exc.code, detail=exc.detail, cause=repr(exc.__cause__))
    return _problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        extra=exc.extra,
    )


def _problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=problem_type(code),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        request_id=getattr(request.state, "request_id", "-"),
        errors=errors,
    )
    body = problem.model_dump(exclude_none=True) | (extra or {})
    # An error is about this moment: no cache in front of the service may keep it.
    headers = {"Cache-Control": "no-store", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _validation_error(error: Any) -> dict[str, Any]:
    # The offending input is not echoed back: it may be large, or hold something secret.
    return {
        "loc": list(error.get("loc", ())),
        "msg": _without_prefix(error.get("msg", "")),
        "type": error.get("type", ""),
    }


def _without_prefix(message: str) -> str:
    """A validator's own words: pydantic puts ``Value error, `` before a ``ValueError``'s."""
    return message.removeprefix(_VALUE_ERROR_PREFIX)
