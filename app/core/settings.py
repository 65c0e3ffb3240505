"""The one settings object: every value PixyProxy reads from the environment."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.core.exceptions import ConfigurationError


class Settings(BaseSettings):
    """Configuration from ``PIXY_*`` environment variables (and a ``.env`` file)."""

    model_config = SettingsConfigDict(
        env_prefix="PIXY_", env_file=".env", extra="ignore", frozen=True
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
    content_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=16 * 1024**3)
    generator: Literal["offline", "openai"] = "offline"
    openai_model: str = "gpt-image-2"
    openai_size: str = "1024x1024"
    openai_timeout: float = Field(default=300.0, gt=0)
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("PIXY_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("PIXY_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    cursor_secret: SecretStr = SecretStr("pixyproxy-listing-cursor")
    max_body_bytes: int = Field(default=65_536, ge=1_024, le=16_777_216)
    job_concurrency: int = Field(default=64, ge=1, le=1_000)
    job_queue_limit: int = Field(default=5_000, ge=1, le=10_000_000)
    job_lease_seconds: float = Field(default=30.0, ge=3, le=3_600)
    job_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    job_max_attempts: int = Field(default=3, ge=1, le=20)
    job_persist_retry_seconds: float = Field(default=120.0, ge=0, le=3_600)
    sync_wait_seconds: float = Field(default=600.0, ge=0, le=3_600)
    image_memory_bytes: int = Field(default=96 * 1024 * 1024, ge=8 * 1024 * 1024, le=64 * 1024**3)
    idempotency_ttl_hours: int = Field(default=24, ge=24, le=24 * 30)
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

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_api_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    @field_validator(
        "s3_endpoint_url",
        "s3_public_endpoint_url",
        "s3_region",
        "public_base_url",
        "openai_base_url",
        "openai_api_key",
        "metrics_port",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def check_exposure(self) -> None:
        """Refuse to serve private routes without keys on anything but loopback."""
        if not self.api_keys and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to listen on {self.host} without PIXY_API_KEYS: "
                "set API keys, or bind to 127.0.0.1 for local use"
            )


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
