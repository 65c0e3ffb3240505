"""Wiring: which concrete parts the settings choose."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient

from app.core.exceptions import ConfigurationError
from app.data.blob_local import LocalBlobStore
from app.data.blob_s3 import S3BlobStore
from app.main import add_routes_unnested, build_generator, build_store, create_app
from app.service.generators.offline import OfflineImageGenerator
from app.service.generators.openai import OpenAIImageGenerator
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("url", "root"),
    [("file://./images", Path("images")), ("file:///srv/pixy", Path("/srv/pixy"))],
)
def test_file_urls_build_a_local_store(url: str, root: Path) -> None:
    parts = build_store(make_settings(storage_url=url))
    store = parts.store
    assert isinstance(store, LocalBlobStore)
    assert parts.presigner is None  # a folder has no URLs to sign
    assert store.root == root


def test_s3_url_builds_an_s3_store_with_prefix(s3_env: dict[str, str]) -> None:
    parts = build_store(make_settings(storage_url="s3://my-bucket/some/prefix"))
    store = parts.store
    assert isinstance(store, S3BlobStore)
    assert parts.presigner is store
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


def test_unnested_routes_answer_and_routes_with_dependencies_are_refused() -> None:
    plain = APIRouter(prefix="/plain")

    @plain.get("/{n}")
    async def echo(n: int) -> dict[str, int]:
        return {"n": n}

    app = FastAPI()
    add_routes_unnested(app, plain)
    with TestClient(app) as client:
        assert client.get("/plain/7").json() == {"n": 7}
        assert client.get("/plain/x").status_code == 422

    async def dependency() -> int:
        return 1

    guarded = APIRouter(dependencies=[Depends(dependency)])

    @guarded.get("/guarded")
    async def behind() -> None:
        return None

    with pytest.raises(TypeError, match="/guarded has dependencies"):
        add_routes_unnested(FastAPI(), guarded)


def test_start_up_objects_are_out_of_the_collectors_sight_while_serving(tmp_path: Path) -> None:
    app = create_app(
        make_settings(
            database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
            storage_url=f"file://{tmp_path / 'images'}",
        )
    )
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        assert gc.get_freeze_count() > 10_000  # the app, its clients, and what they imported
    assert gc.get_freeze_count() == 0
