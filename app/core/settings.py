"""The one settings object: every value PixyProxy reads from the environment."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.exceptions import ConfigurationError
from app.core.generation import Price
from app.core.renditions import DEFAULT_WIDTHS

WEBHOOK_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
"""Seconds before each retry of a webhook delivery (Standard Webhooks' schedule); then failed."""


class Settings(BaseSettings):
    """Configuration from ``PIXY_*`` environment variables (and a ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_prefix="PIXY_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        # A refused value may be a secret (a key, the webhook secret): errors never repeat it.
        hide_input_in_errors=True,
    )

    database_url: str = "sqlite:///pixyproxy.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    listing_timeout: float = Field(default=5.0, gt=0, le=300)
    storage_url: str = "file://./images"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_create_bucket: bool = False
    s3_public_endpoint_url: str | None = None
    content_delivery: Literal["stream", "redirect"] = "stream"
    presign_ttl: int = Field(default=3600, ge=60, le=604_800)
    public_base_url: str | None = None
    cloudfront_distribution_id: str | None = Field(default=None, pattern=r"^[A-Z0-9]{1,64}$")
    cache_staleness_seconds: float = Field(default=2.0, ge=0.1, le=300)
    retention_days: float = Field(default=0, ge=0, le=36_500)
    retention_interval_seconds: float = Field(default=3_600.0, ge=1, le=86_400)
    deletion_retry_seconds: float = Field(default=30.0, ge=0.1, le=3_600)
    content_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=16 * 1024**3)
    variant_widths: Annotated[tuple[int, ...], NoDecode] = DEFAULT_WIDTHS
    variant_concurrency: int = Field(default=2, ge=1, le=64)
    # Pillow refuses on its own (DecompressionBombError) at twice its limit of 89,478,485.
    variant_max_pixels: int = Field(default=4096 * 4096, ge=1_024, le=89_478_485)
    generator: Literal["offline", "openai"] = "offline"
    openai_model: str = "gpt-image-2"
    openai_models: Annotated[tuple[str, ...], NoDecode] = ()
    openai_size: str = "1024x1024"
    openai_model_sizes: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_MODEL_SIZES)
    )
    openai_prices: dict[str, Price] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    openai_timeout: float = Field(default=300.0, gt=0)
    partial_images: int = Field(default=0, ge=0, le=3)
    events_keepalive_seconds: float = Field(default=15.0, gt=0, le=300)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PIXY_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PIXY_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    admin_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    key_images_per_hour: int = Field(default=0, ge=0, le=1_000_000)
    cursor_secret: SecretStr = SecretStr("pixyproxy-listing-cursor")
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=16_777_216)
    job_concurrency: int = Field(default=128, ge=1, le=1_000)
    job_queue_limit: int = Field(default=5_000, ge=1, le=10_000_000)
    job_lease_seconds: float = Field(default=30.0, ge=3, le=3_600)
    job_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    job_max_attempts: int = Field(default=3, ge=1, le=20)
    job_persist_retry_seconds: float = Field(default=120.0, ge=0, le=3_600)
    sync_wait_seconds: float = Field(default=600.0, ge=0, le=3_600)
    image_memory_bytes: int = Field(default=96 * 1024 * 1024, ge=8 * 1024 * 1024, le=64 * 1024**3)
    idempotency_ttl_hours: int = Field(default=24, ge=24, le=24 * 30)
    job_retention_days: float = Field(default=30.0, ge=0, le=36_500)
    shutdown_drain_seconds: float = Field(default=5.0, ge=0, le=300)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3_600)
    metrics_enabled: bool = True
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_header_bytes: int = Field(default=65_536, ge=4_096, le=1_048_576)
    header_timeout: float = Field(default=10.0, gt=0, le=300)
    keep_alive_timeout: int = Field(default=5, ge=1, le=3_600)
    max_connections: int = Field(default=1_000, ge=1, le=100_000)
    forwarded_allow_ips: str = "127.0.0.1"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    webhook_secret: SecretStr | None = None
    webhook_allow_private: bool = False
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = WEBHOOK_RETRY_SCHEDULE

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _sane_delays(cls, delays: tuple[float, ...]) -> tuple[float, ...]:
        if len(delays) > 20 or any(not 0 <= delay <= 7 * 86_400 for delay in delays):
            raise ValueError("at most 20 delays, each 0 to 604800 seconds")
        return delays

    @field_validator("webhook_secret")
    @classmethod
    def _standard_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None:
            webhook_key(secret)  # refused at start rather than at the first delivery
        return secret

    @field_validator("variant_widths")
    @classmethod
    def _check_widths(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(not 0 < width <= 16_384 for width in value):
            raise ValueError("PIXY_VARIANT_WIDTHS must list widths from 1 to 16384 pixels")
        return tuple(sorted(set(value)))

    # Lists are comma-separated in the environment; pydantic then types each item.
    @field_validator(
        "api_keys",
        "admin_keys",
        "openai_models",
        "variant_widths",
        "webhook_retry_schedule",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @model_validator(mode="after")
    def _jobs_outlive_their_keys(self) -> Settings:
        # A job forgotten while its Idempotency-Key still holds would let a retry pay twice.
        if 0 < self.job_retention_days * 24 < self.idempotency_ttl_hours:
            raise ValueError(
                "PIXY_JOB_RETENTION_DAYS must keep jobs at least PIXY_IDEMPOTENCY_TTL_HOURS"
            )
        return self

    def models(self) -> tuple[str, ...]:
        """The models clients may ask for, the default first."""
        return self.openai_models or (self.openai_model,)

    @cached_property
    def named_keys(self) -> tuple[NamedKey, ...]:
        """Every API key (operator keys included) with its name, if the setting gave one; parsed
        once, since every authenticated request reads them.

        An entry is ``key`` or ``name=key``; a name is a short word, so a key that merely
        contains ``=`` (base64 padding) is still read as a key.
        """
        entries = [(entry, False) for entry in self.api_keys]
        entries += [(entry, True) for entry in self.admin_keys]
        return tuple(_named_key(entry.get_secret_value(), admin) for entry, admin in entries)

    @field_validator(
        "s3_endpoint_url",
        "s3_public_endpoint_url",
        "s3_region",
        "public_base_url",
        "openai_base_url",
        "openai_api_key",
        "metrics_port",
        "webhook_secret",
        "cloudfront_distribution_id",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def check_exposure(self) -> None:
        """Refuse to serve private routes without keys on anything but loopback."""
        if not self.named_keys and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to listen on {self.host} without PIXY_API_KEYS: "
                "set API keys, or bind to 127.0.0.1 for local use"
            )


@dataclass(frozen=True)
class NamedKey:
    """An API key from the settings, the name given to it, and whether it is an operator's."""

    key: str
    name: str | None
    admin: bool


_KEY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")


def _named_key(entry: str, admin: bool) -> NamedKey:
    name, separator, key = entry.partition("=")
    if separator and key and not key.startswith("=") and _KEY_NAME.fullmatch(name):
        return NamedKey(key=key, name=name, admin=admin)
    return NamedKey(key=entry, name=None, admin=admin)


_STANDARD_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
DEFAULT_MODEL_SIZES: dict[str, tuple[str, ...]] = {
    "gpt-image-2": _STANDARD_SIZES,
    "gpt-image-1.5": _STANDARD_SIZES,
    "gpt-image-1": _STANDARD_SIZES,
    "gpt-image-1-mini": _STANDARD_SIZES,
}
"""Sizes each model makes; a model missing here makes the standard three and ``auto``."""

DEFAULT_PRICES: dict[str, Price] = {
    "gpt-image-2": Price(text_input=5.0, image_input=8.0, output=32.0),
    "gpt-image-1.5": Price(text_input=5.0, image_input=8.0, output=32.0),
    "gpt-image-1": Price(text_input=5.0, image_input=10.0, output=40.0),
    "gpt-image-1-mini": Price(text_input=2.0, image_input=2.5, output=8.0),
}
"""US dollars per million tokens. Set ``PIXY_OPENAI_PRICES`` to the provider's current list."""


def webhook_key(secret: SecretStr) -> bytes:
    """The signing key of a Standard Webhooks secret (``whsec_`` and base64, 24 to 64 bytes)."""
    text = secret.get_secret_value()
    # The message names neither the secret nor a piece of it: it may end up in a log.
    problem = "PIXY_WEBHOOK_SECRET must be whsec_ followed by 24 to 64 bytes in base64"
    if not text.startswith("whsec_"):
        raise ValueError(problem)
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise ValueError(problem) from None
    if not 24 <= len(key) <= 64:
        raise ValueError(problem)
    return key


def is_loopback(host: str) -> bool:
    """Tell whether a bind address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
