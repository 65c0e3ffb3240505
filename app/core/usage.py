"""Usage reports: images, tokens and estimated cost, by model and by day, for a key or all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class UsageRow:
    """One group of images as the database sums them: a key's images of one model on one day."""

    owner: str | None
    model: str | None
    day: date
    images: int
    text_input_tokens: int
    image_input_tokens: int
    output_tokens: int
    cost_microusd: int


class UsageTotals(BaseModel):
    """Sums over some images."""

    model_config = ConfigDict(frozen=True)

    images: int = 0
    text_input_tokens: int = 0
    image_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = Field(default=0.0, description="Estimated from tokens and the price table.")


class ModelUsage(UsageTotals):
    """Sums over one model's images (``null``: made before models were recorded)."""

    model: str | None


class DayUsage(UsageTotals):
    """Sums over one UTC day's images."""

    day: date


class KeyUsage(UsageTotals):
    """Sums over one key's images (an operator's report of every key)."""

    key: str | None = Field(description="The key's non-secret id (null: made before owners).")
    name: str | None = Field(default=None, description="The name the settings give the key.")


class UsageReport(BaseModel):
    """What ``GET /usage`` answers."""

    model_config = ConfigDict(frozen=True)

    key: str | None = Field(description="The key's non-secret id; null when every key is summed.")
    name: str | None = Field(default=None, description="The name the settings give the key.")
    from_: datetime | None = Field(default=None, alias="from", serialization_alias="from")
    to: datetime | None = None
    total: UsageTotals
    by_model: list[ModelUsage]
    by_day: list[DayUsage]
    by_key: list[KeyUsage] | None = None
