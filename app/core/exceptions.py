"""The one exception tree of PixyProxy.

Every error the service raises on purpose is a ``PixyProxyException``. Each class carries the
HTTP status and the stable machine-readable ``code`` that the web layer renders as an RFC 9457
problem; lower layers raise them without knowing anything about HTTP frameworks.

    PixyProxyException               500 internal_error
    ├── ConfigurationError           500 configuration_error      settings refused at start
    ├── InvalidRequest               422 invalid_request          bad client input
    │   ├── IdempotencyKeyReused     422 idempotency_key_reused   same key, another body
    │   └── ImageTooLarge            422 image_too_large          too many pixels for a variant
    ├── RequestTooLarge              413 request_too_large        a body over the size limit
    ├── QueryTooLong                 414 query_too_long           a query string over the limit
    ├── RequestHeadersTooLarge       431 request_headers_too_large  a head over the size limit
    ├── RequestTimeout               408 request_timeout          a head not sent in time
    ├── UnsupportedMediaType         415 unsupported_media_type   a body that is not JSON
    ├── BudgetExceeded               429 budget_exceeded          the key's images per hour
    ├── NotAuthenticated             401 not_authenticated        no valid API key
    ├── Forbidden                    403 forbidden                the key may not do this
    ├── ImageNotFound                404 image_not_found          no image has that guid
    ├── JobNotFound                  404 job_not_found            no job of the caller's has that id
    ├── PartialNotFound              404 partial_not_found        no such partial render of the job
    ├── ContentMissing               404 content_missing          a row whose bytes are gone
    ├── RangeNotSatisfiable          416 range_not_satisfiable    a Range outside the object
    ├── ServiceUnavailable           503 service_unavailable      a dependency is down
    │   ├── DatabaseUnavailable      503 database_unavailable
    │   ├── StorageUnavailable       503 storage_unavailable
    │   ├── CdnUnavailable           503 cdn_unavailable          never sent: a delete retries
    │   ├── GenerationCapacity       503 generation_capacity      the job queue is full
    │   ├── SearchCapacity           503 search_capacity          every search slot busy
    │   ├── QueryCancelled           503 query_cancelled          stopped: nobody waits for it
    │   └── NotReady                 503 not_ready                starting, stopping or cut off
    ├── QueryTimeout                 504 query_timeout            a query ran past its deadline
    ├── DatabaseError                500 database_error           a statement was refused
    ├── StorageError                 500 storage_error            a store operation was refused
    └── GenerationFailed             502 generation_failed        no usable image
        ├── PromptRejected           422 prompt_rejected          the provider's safety system
        ├── ProviderRateLimited      503 provider_rate_limited    retryable after retry_after
        ├── ProviderQuotaExceeded    503 provider_quota_exceeded  not retryable soon
        ├── ProviderTimeout          504 provider_timeout         no answer in time
        ├── ProviderError            502 provider_error           failed or unreachable
        ├── GenerationEmpty          502 generation_empty         an answer without an image
        ├── GenerationInterrupted    502 generation_interrupted   its runners kept dying
        └── InvalidImage             502 invalid_image            bytes that are no known image
"""

from __future__ import annotations

from typing import Any, ClassVar


class PixyProxyException(Exception):
    """Base of every error PixyProxy raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.retry_after = retry_after
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.detail)


class ConfigurationError(PixyProxyException):
    """Raised at start when the settings cannot work together."""

    code = "configuration_error"
    title = "Invalid configuration"


class InvalidRequest(PixyProxyException):
    """Raised when input that a client controls is malformed."""

    status = 422
    code = "invalid_request"
    title = "Invalid request"


class IdempotencyKeyReused(InvalidRequest):
    """Raised when an Idempotency-Key comes back with a different request body."""

    code = "idempotency_key_reused"
    title = "Idempotency key reused with another request"


class ImageTooLarge(InvalidRequest):
    """Raised when a variant is asked of an image with more pixels than variants are made of.

    Decoding takes four bytes a pixel whatever the file's size: a small file can hold a
    decompression bomb, so the limit is on pixels, read from the header before decoding.
    """

    code = "image_too_large"
    title = "Image too large for variants"


class RequestTooLarge(PixyProxyException):
    """Raised when a request body exceeds the configured limit."""

    status = 413
    code = "request_too_large"
    title = "Request too large"


class QueryTooLong(PixyProxyException):
    """Raised when a query string exceeds the configured limit."""

    status = 414
    code = "query_too_long"
    title = "Query string too long"


class RequestHeadersTooLarge(PixyProxyException):
    """Raised when a request line and headers together exceed the configured limit."""

    status = 431
    code = "request_headers_too_large"
    title = "Request headers too large"


class RequestTimeout(PixyProxyException):
    """Raised when a client does not finish sending a request's headers in time."""

    status = 408
    code = "request_timeout"
    title = "Request timeout"


class UnsupportedMediaType(PixyProxyException):
    """Raised when a body comes with a content type other than JSON."""

    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class BudgetExceeded(PixyProxyException):
    """Raised when a key has started ``PIXY_KEY_IMAGES_PER_HOUR`` images in the last hour."""

    status = 429
    code = "budget_exceeded"
    title = "Budget exceeded"


class NotAuthenticated(PixyProxyException):
    """Raised when a private route is called without a valid API key."""

    status = 401
    code = "not_authenticated"
    title = "Not authenticated"


class Forbidden(PixyProxyException):
    """Raised when a valid key asks for what only an operator key may do."""

    status = 403
    code = "forbidden"
    title = "Forbidden"


class ImageNotFound(PixyProxyException):
    """Raised when no image has the requested guid."""

    status = 404
    code = "image_not_found"
    title = "Image not found"


class JobNotFound(PixyProxyException):
    """Raised when no job of the caller's has the requested id (another key's job included)."""

    status = 404
    code = "job_not_found"
    title = "Job not found"


class PartialNotFound(PixyProxyException):
    """Raised when the caller's job recorded no partial render of the requested index."""

    status = 404
    code = "partial_not_found"
    title = "Partial render not found"


class ContentMissing(PixyProxyException):
    """Raised when an image's row exists but its bytes are gone from the store."""

    status = 404
    code = "content_missing"
    title = "Image content missing"


class RangeNotSatisfiable(PixyProxyException):
    """Raised when a requested byte range lies outside the object; carries the object's size."""

    status = 416
    code = "range_not_satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str | None = None, *, size: int) -> None:
        super().__init__(
            detail or f"the object has {size} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        )
        self.size = size


class ServiceUnavailable(PixyProxyException):
    """Raised when a dependency cannot be reached; the client may retry later."""

    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """Raised when the database cannot be reached or dropped the connection."""

    code = "database_unavailable"
    title = "Database unavailable"


class StorageUnavailable(ServiceUnavailable):
    """Raised when the blob store cannot be reached."""

    code = "storage_unavailable"
    title = "Storage unavailable"


class CdnUnavailable(ServiceUnavailable):
    """Raised when the CDN refuses or does not answer an invalidation (retried later, never
    shown to a client: a delete does not wait for the CDN)."""

    code = "cdn_unavailable"
    title = "CDN unavailable"


class GenerationCapacity(ServiceUnavailable):
    """Raised when the job queue holds as many waiting jobs as it may."""

    code = "generation_capacity"
    title = "Too many generations waiting"


class SearchCapacity(ServiceUnavailable):
    """Raised when every slot for text searches is taken, so that reads keep connections."""

    code = "search_capacity"
    title = "Too many searches in progress"


class NotReady(ServiceUnavailable):
    """Raised by the readiness check while starting, stopping or cut off from a dependency."""

    code = "not_ready"
    title = "Not ready"


class QueryCancelled(ServiceUnavailable):
    """Raised when a query was stopped because every caller waiting for it had gone."""

    code = "query_cancelled"
    title = "Query cancelled"


class QueryTimeout(PixyProxyException):
    """Raised when the database stopped a query that ran past its deadline."""

    status = 504
    code = "query_timeout"
    title = "Query took too long"


class DatabaseError(PixyProxyException):
    """Raised when the database refuses a statement for a reason other than reachability."""

    code = "database_error"
    title = "Database error"


class StorageError(PixyProxyException):
    """Raised when the blob store refuses an operation for a reason other than reachability."""

    code = "storage_error"
    title = "Storage error"


class GenerationFailed(PixyProxyException):
    """Raised when the generator produced no usable image."""

    status = 502
    code = "generation_failed"
    title = "Image generation failed"


class PromptRejected(GenerationFailed):
    """Raised when the provider's safety system rejects the prompt; never retried."""

    status = 422
    code = "prompt_rejected"
    title = "Prompt rejected"


class ProviderRateLimited(GenerationFailed):
    """Raised when the provider asks us to slow down; retryable after ``retry_after``."""

    status = 503
    code = "provider_rate_limited"
    title = "Image provider rate limit reached"


class ProviderQuotaExceeded(GenerationFailed):
    """Raised when the provider account has no quota left; retrying soon will not help."""

    status = 503
    code = "provider_quota_exceeded"
    title = "Image provider quota exhausted"


class ProviderTimeout(GenerationFailed):
    """Raised when the provider gave no answer within the configured timeout."""

    status = 504
    code = "provider_timeout"
    title = "Image provider timed out"


class ProviderError(GenerationFailed):
    """Raised when the provider failed, refused our credentials or could not be reached."""

    code = "provider_error"
    title = "Image provider error"


class GenerationEmpty(GenerationFailed):
    """Raised when the provider answered without an image."""

    code = "generation_empty"
    title = "No image was generated"


class InvalidImage(GenerationFailed):
    """Raised when generated bytes are not an image of a type we serve."""

    code = "invalid_image"
    title = "Generated content is not an image"


class GenerationInterrupted(GenerationFailed):
    """Raised for a job whose runners stopped (died or drained) more times than allowed."""

    code = "generation_interrupted"
    title = "Generation interrupted"


def exception_for_code(code: str) -> type[PixyProxyException]:
    """The class of the tree whose ``code`` this is (the base class for an unknown code)."""
    pending: list[type[PixyProxyException]] = [PixyProxyException]
    while pending:
        cls = pending.pop()
        if cls.code == code:
            return cls
        pending.extend(cls.__subclasses__())
    return PixyProxyException
