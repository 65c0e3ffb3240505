"""What a generator is asked for and what it answers: options in, bytes and usage out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GenerationRequest:
    """One image to generate: the prompt and every option, defaults resolved.

    ``None`` means "not asked": the provider's own default applies and nothing is sent for it.
    """

    prompt: str
    model: str
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    background: str | None = None

    def options(self) -> dict[str, Any]:
        """The options as a job stores them (the prompt is stored apart)."""
        values = {
            "model": self.model,
            "size": self.size,
            "quality": self.quality,
            "output_format": self.output_format,
            "output_compression": self.output_compression,
            "background": self.background,
        }
        return {name: value for name, value in values.items() if value is not None}

    @classmethod
    def of(cls, prompt: str, options: dict[str, Any]) -> GenerationRequest:
        """The request a job's prompt and stored options describe."""
        return cls(prompt=prompt, **options)


@dataclass(frozen=True)
class TokenUsage:
    """What the provider counted for one generation."""

    text_input: int = 0
    image_input: int = 0
    output: int = 0


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, by kind of token."""

    text_input: float
    image_input: float
    output: float

    def cost_microusd(self, usage: TokenUsage) -> int:
        """The estimated cost of ``usage``, in millionths of a dollar (exact to sum)."""
        return round(
            usage.text_input * self.text_input
            + usage.image_input * self.image_input
            + usage.output * self.output
        )


@dataclass(frozen=True)
class GeneratedImage:
    """A generator's answer: the image's bytes and the provider's usage."""

    data: bytes
    model: str
    usage: TokenUsage = field(default_factory=TokenUsage)
