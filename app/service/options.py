"""Which generation options the configured models allow: checked before any job exists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import get_args

from pydantic import BaseModel, ConfigDict, Field

from app.core.exceptions import InvalidRequest
from app.core.generation import GenerationRequest, Price, TokenUsage
from app.core.models import Background, ImageCreate, OutputFormat, Quality

STANDARD_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
"""Sizes of a model the settings do not describe."""


class ModelChoice(BaseModel):
    """One model clients may ask for, and the sizes it makes."""

    model_config = ConfigDict(frozen=True)

    name: str
    sizes: list[str] = Field(description="The sizes it makes, each `auto` or `WIDTHxHEIGHT`.")
    default: bool = Field(description="Whether a POST without `model` gets this one.")


class GenerationChoices(BaseModel):
    """What a ``POST /image`` may ask for.

    Of the qualities, formats and backgrounds, the first is what a POST that leaves it out gets.
    """

    model_config = ConfigDict(frozen=True)

    models: list[ModelChoice]
    qualities: list[str]
    formats: list[str]
    backgrounds: list[str]


QUALITIES: tuple[str, ...] = get_args(Quality)
BACKGROUNDS: tuple[str, ...] = get_args(Background)


class ModelCatalog:
    """The models clients may ask for (the default first), their sizes and their prices.

    A generator that honours fewer qualities or backgrounds than OpenAI (the offline one) lists
    only those: the others are refused rather than ignored. ``applied_quality`` is the quality
    recorded when a POST names none, for a generator that knows what it applies; without it
    nothing is recorded (or sent), and the provider's own default applies.
    """

    def __init__(
        self,
        *,
        models: Sequence[str],
        sizes: Mapping[str, Sequence[str]],
        prices: Mapping[str, Price],
        qualities: Sequence[str] = QUALITIES,
        backgrounds: Sequence[str] = BACKGROUNDS,
        applied_quality: str | None = None,
    ) -> None:
        self.models = tuple(models)
        self._sizes = {model: tuple(sizes.get(model, STANDARD_SIZES)) for model in self.models}
        self._prices = dict(prices)
        self._qualities = tuple(qualities)
        self._backgrounds = tuple(backgrounds)
        self._applied_quality = applied_quality

    def resolve(self, request: ImageCreate) -> GenerationRequest:
        """The generation ``request`` asks for, or ``InvalidRequest`` saying what is not made."""
        model = request.model or self.models[0]
        if model not in self.models:
            raise _refused("model", f"model must be one of {', '.join(self.models)}")
        if request.size is not None and request.size not in self._sizes[model]:
            sizes = ", ".join(self._sizes[model])
            raise _refused("size", f"{model} makes these sizes: {sizes}")
        if request.quality is not None and request.quality not in self._qualities:
            qualities = ", ".join(self._qualities)
            raise _refused("quality", f"{model} makes these qualities: {qualities}")
        if request.background is not None and request.background not in self._backgrounds:
            backgrounds = ", ".join(self._backgrounds)
            raise _refused("background", f"{model} makes these backgrounds: {backgrounds}")
        return GenerationRequest(
            prompt=request.prompt,
            model=model,
            size=request.size,
            quality=request.quality or self._applied_quality,
            output_format=request.output_format,
            output_compression=request.output_compression,
            background=request.background,
        )

    def describe(self) -> GenerationChoices:
        """Every model with its sizes (the default first), and the other options' values."""
        return GenerationChoices(
            models=[
                ModelChoice(name=model, sizes=list(self._sizes[model]), default=index == 0)
                for index, model in enumerate(self.models)
            ],
            qualities=list(self._qualities),
            formats=list(get_args(OutputFormat)),
            backgrounds=list(self._backgrounds),
        )

    def cost_microusd(self, model: str, usage: TokenUsage) -> int:
        """The estimated cost of ``usage`` on ``model`` (0 for a model without a price)."""
        price = self._prices.get(model)
        return price.cost_microusd(usage) if price is not None else 0


def _refused(field: str, message: str) -> InvalidRequest:
    error = {"loc": ["body", field], "msg": message, "type": "value_error"}
    return InvalidRequest(message, extra={"errors": [error]})
