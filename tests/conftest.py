"""Fixtures shared by every test; the builders behind them live in ``tests.fixtures``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from app.core.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, start_fake_openai, stop_fake_openai
from tests.fixtures import (
    S3_CREDENTIALS,
    create_scratch_database,
    drop_scratch_database,
    free_port,
    mysql_unreachable_reason,
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's PIXY_/OPENAI_ settings or their .env file."""
    for name in list(os.environ):
        if name.startswith(("PIXY_", "OPENAI_")) and name != "PIXY_TEST_MYSQL_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def make_settings(**values: Any) -> Settings:
    """Settings from explicit values only (no environment file)."""
    return Settings(_env_file=None, **values)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, as the service does."""
    return "asyncio"


@pytest.fixture(scope="session")
def mysql_available() -> None:
    """Skip (or, under CI=true, fail) when no MySQL server is reachable."""
    reason = mysql_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the MySQL tests: {reason}")
    pytest.skip(reason)


@pytest.fixture
def mysql_url(mysql_available: None) -> Iterator[str]:
    """The URL of an empty MySQL database that lives for one test."""
    url = create_scratch_database()
    yield url
    drop_scratch_database(url)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server over HTTP on 127.0.0.1, for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """AWS credentials for moto, in this process's environment as boto3 reads them."""
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return dict(S3_CREDENTIALS)


@pytest.fixture
def bucket(moto_endpoint: str, s3_env: dict[str, str]) -> str:
    """A new, empty bucket on the moto server."""
    name = f"pixy-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI images server on 127.0.0.1 answering successfully until told otherwise."""
    fake = start_fake_openai()
    yield fake
    stop_fake_openai(fake)
