"""The OpenAI generator: the real ``openai`` client against a fake images server."""

from __future__ import annotations

import threading
import time
from typing import Any

import openai
import pytest

from app.core.exceptions import (
    GenerationEmpty,
    GenerationFailed,
    InvalidImage,
    PromptRejected,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderTimeout,
)
from app.core.generation import GenerationRequest
from app.core.image_types import PNG, sniff_image_type
from app.service.generation import check_image
from app.service.generators.openai import OpenAIImageGenerator
from tests.budget import Admitted, admit_any
from tests.fakes.openai_server import (
    FakeOpenAI,
    noisy_png,
    start_fake_openai,
    stop_fake_openai,
)
from tests.fixtures import free_port

pytestmark = pytest.mark.anyio


def generator_for(
    base_url: str, *, timeout: float = 5.0, partial_images: int = 0
) -> OpenAIImageGenerator:
    client = openai.AsyncOpenAI(
        api_key="sk-test", base_url=base_url, timeout=timeout, max_retries=0
    )
    return OpenAIImageGenerator(client, size="1024x1024", partial_images=partial_images)


def ask(prompt: str, **options: Any) -> GenerationRequest:
    """A request for ``prompt`` on the default model, with these options."""
    return GenerationRequest(prompt=prompt, model="gpt-image-2", **options)


async def test_success_decodes_the_base64_image(fake_openai: FakeOpenAI) -> None:
    generator = generator_for(fake_openai.base_url)
    data = (await generator.generate(ask("a rubber duck"), admit_any)).data
    await generator.close()
    assert sniff_image_type(data) == PNG
    assert fake_openai.requests == [
        {"model": "gpt-image-2", "prompt": "a rubber duck", "size": "1024x1024", "n": 1}
    ]


@pytest.mark.parametrize(
    ("scenario", "error", "status", "code"),
    [
        ("empty", GenerationEmpty, 502, "generation_empty"),
        ("safety", PromptRejected, 422, "prompt_rejected"),
        ("rate_limit", ProviderRateLimited, 503, "provider_rate_limited"),
        ("quota", ProviderQuotaExceeded, 503, "provider_quota_exceeded"),
        ("server_error", ProviderError, 502, "provider_error"),
        ("unauthorized", ProviderError, 502, "provider_error"),
        ("bad_base64", InvalidImage, 502, "invalid_image"),
    ],
)
async def test_each_failure_maps_to_its_own_problem(
    fake_openai: FakeOpenAI,
    scenario: str,
    error: type[GenerationFailed],
    status: int,
    code: str,
) -> None:
    fake_openai.scenario = scenario
    generator = generator_for(fake_openai.base_url)
    with pytest.raises(error) as raised:
        await generator.generate(ask("a duck"), admit_any)
    await generator.close()
    assert type(raised.value) is error
    assert (raised.value.status, raised.value.code) == (status, code)
    assert len(fake_openai.requests) == 1  # never retried


async def test_rate_limit_carries_the_providers_retry_after(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = "rate_limit"
    generator = generator_for(fake_openai.base_url)
    with pytest.raises(ProviderRateLimited) as raised:
        await generator.generate(ask("a duck"), admit_any)
    await generator.close()
    assert raised.value.retry_after == 7


async def test_safety_rejection_carries_the_providers_request_id(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = "safety"
    generator = generator_for(fake_openai.base_url)
    with pytest.raises(PromptRejected) as raised:
        await generator.generate(ask("something forbidden"), admit_any)
    await generator.close()
    assert raised.value.extra == {"provider_request_id": "req_fake_1"}


async def test_a_hang_past_the_timeout_is_provider_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = "hang"
    generator = generator_for(fake_openai.base_url, timeout=0.5)
    with pytest.raises(ProviderTimeout) as raised:
        await generator.generate(ask("a duck"), admit_any)
    await generator.close()
    assert (raised.value.status, raised.value.code) == (504, "provider_timeout")


async def test_unreachable_provider_is_provider_error() -> None:
    generator = generator_for(f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(ProviderError):
        await generator.generate(ask("a duck"), admit_any)
    await generator.close()


async def test_bytes_that_are_not_an_image_are_refused_before_storage(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.scenario = "not_image"
    generator = generator_for(fake_openai.base_url)
    data = (await generator.generate(ask("a duck"), admit_any)).data
    await generator.close()
    with pytest.raises(InvalidImage) as raised:
        check_image(data)
    assert (raised.value.status, raised.value.code) == (502, "invalid_image")


async def test_a_refused_connection_is_retried_until_the_provider_answers() -> None:
    port = free_port()
    generator = generator_for(f"http://127.0.0.1:{port}/v1")
    fake: list[FakeOpenAI] = []

    def start_late() -> None:
        time.sleep(0.1)
        fake.append(start_fake_openai(port=port))

    starter = threading.Thread(target=start_late)
    starter.start()
    try:
        data = (await generator.generate(ask("persistent duck"), admit_any)).data
    finally:
        starter.join()
        await generator.close()
        stop_fake_openai(fake[0])
    assert sniff_image_type(data) == PNG
    assert len(fake[0].requests) == 1


async def test_a_timeout_is_not_retried(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = "hang"
    generator = generator_for(fake_openai.base_url, timeout=0.3)
    with pytest.raises(ProviderTimeout):
        await generator.generate(ask("a duck"), admit_any)
    await generator.close()
    assert len(fake_openai.requests) == 1


async def test_the_answer_is_admitted_by_its_size_before_it_is_read(
    fake_openai: FakeOpenAI,
) -> None:
    fake_openai.image = noisy_png(256)
    generator = generator_for(fake_openai.base_url)
    admitted = Admitted()
    data = (await generator.generate(ask("a noisy duck"), admitted)).data
    await generator.close()
    assert data == fake_openai.image
    # One estimate, before reading: the body (base64 JSON) counted three times over.
    assert len(admitted.asks) == 1
    assert admitted.asks[0] >= 3 * len(data) * 4 // 3


async def test_a_streamed_answer_gives_its_partials_then_the_same_image_and_usage(
    fake_openai: FakeOpenAI,
) -> None:
    partials: list[tuple[int, bytes]] = []

    async def keep(index: int, data: bytes) -> None:
        partials.append((index, data))

    streamed = generator_for(fake_openai.base_url, partial_images=2)
    plain = generator_for(fake_openai.base_url)
    request = ask("the same duck", quality="low")
    with_partials = await streamed.generate(request, admit_any, keep)
    without = await plain.generate(request, admit_any)
    await streamed.close()
    await plain.close()
    assert [index for index, _ in partials] == [0, 1]
    assert all(sniff_image_type(data) == PNG for _, data in partials)
    assert with_partials == without  # the final image and usage equal an unstreamed answer
    assert fake_openai.requests[0] == {
        **fake_openai.requests[1],
        "stream": True,
        "partial_images": 2,
    }


async def test_a_stream_that_breaks_off_is_a_provider_failure(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = "stream_break"
    partials: list[int] = []

    async def keep(index: int, data: bytes) -> None:
        partials.append(index)

    generator = generator_for(fake_openai.base_url, partial_images=2)
    with pytest.raises(ProviderError):
        await generator.generate(ask("cut short"), admit_any, keep)
    await generator.close()
    assert partials == [0]
