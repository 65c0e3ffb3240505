"""Wiring: which concrete parts the settings choose."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.exceptions import ConfigurationError
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.main import build_generator, build_store
from app.service.generators.offline import OfflineImageGenerator
from app.service.generators.openai import OpenAIImageGenerator
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("url", "root"),
    [("file://./images", Path("images")), ("file:///srv/pixy", Path("/srv/pixy"))],
)
def test_file_urls_build_a_local_store(url: str, root: Path) -> None:
    store = build_store(make_settings(storage_url=url))
    assert isinstance(store, LocalBlobStore)
    assert store.root == root


def test_s3_url_builds_an_s3_store_with_prefix(s3_env: dict[str, str]) -> None:
    store = build_store(make_settings(storage_url="s3://my-bucket/some/prefix"))
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.key_for("a.png")) == ("my-bucket", "some/prefix/a.png")


@pytest.mark.parametrize("url", ["s3://", "ftp://host/x", "images", "file://"])
def test_unknown_storage_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        build_store(make_settings(storage_url=url))


def test_generator_choice() -> None:
    assert isinstance(build_generator(make_settings()), OfflineImageGenerator)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        build_generator(make_settings(generator="openai"))
    generator = build_generator(make_settings(generator="openai", openai_api_key="sk-x"))
    assert isinstance(generator, OpenAIImageGenerator)
