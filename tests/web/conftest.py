"""Live servers for the web tests: ``python -m app`` on a free port, on each backend."""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from app.data.database import open_database
from app.data.init import init_database
from tests.fakes.openai_server import FakeOpenAI, start_fake_openai, stop_fake_openai
from tests.fixtures import (
    S3_CREDENTIALS,
    LiveServer,
    create_scratch_database,
    drop_scratch_database,
    mysql_connect,
    openai_settings,
    s3_client,
    start_live_server,
)
from tests.seeding import four_words, seed_images

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Backend:
    """A running server and where its state lives, for tests to look at directly."""

    name: str
    server: LiveServer
    database_url: str
    bucket: str | None = None
    moto_endpoint: str | None = None
    fake: FakeOpenAI | None = None

    def table_row(self, guid: str) -> dict[str, Any] | None:
        """The images row for ``guid``, read straight from the database."""
        sql = "SELECT guid, filename, prompt FROM images WHERE guid = "
        if self.database_url.startswith("sqlite"):
            with closing(sqlite3.connect(self.database_url.removeprefix("sqlite:///"))) as conn:
                conn.row_factory = sqlite3.Row
                row = conn.execute(sql + "?", (guid,)).fetchone()
                return dict(row) if row else None
        with mysql_connect(self.database_url) as mysql:
            cursor = mysql.cursor()
            cursor.execute(sql + "%s", (guid,))
            found: dict[str, Any] | None = cursor.fetchone()
            return found

    def stored_object(self, key: str) -> bytes:
        """The bytes under ``key``, read from the store directly."""
        if self.bucket is None:
            return (self.server.workdir / "images" / key).read_bytes()
        data: bytes = self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def replace_object(self, key: str, data: bytes) -> None:
        """Overwrite the bytes under ``key`` behind the service's back."""
        if self.bucket is None:
            (self.server.workdir / "images" / key).write_bytes(data)
        else:
            self._s3().put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete_object(self, key: str) -> None:
        """Remove an object behind the service's back."""
        if self.bucket is None:
            (self.server.workdir / "images" / key).unlink()
        else:
            self._s3().delete_object(Bucket=self.bucket, Key=key)

    def _s3(self) -> S3Client:
        assert self.moto_endpoint is not None
        return s3_client(self.moto_endpoint)


@pytest.fixture(scope="module")
def module_fake_openai() -> Iterator[FakeOpenAI]:
    fake = start_fake_openai()
    yield fake
    stop_fake_openai(fake)


@dataclass
class OpenAISetup:
    """A live server whose generator is the fake OpenAI, and that fake."""

    server: LiveServer
    fake: FakeOpenAI


@contextmanager
def serve_fake_openai(
    request: pytest.FixtureRequest, name: str, **settings: str
) -> Iterator[OpenAISetup]:
    """``python -m app`` in a new folder named after ``name``, generating with the module's fake
    OpenAI, with ``settings`` on top; stopped on leaving. For a module-scoped fixture."""
    tmp_path_factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    fake: FakeOpenAI = request.getfixturevalue("module_fake_openai")
    server = start_live_server(
        tmp_path_factory.mktemp(name), **openai_settings(fake.base_url), **settings
    )
    try:
        yield OpenAISetup(server, fake)
    finally:
        server.stop()


@pytest.fixture
def fresh_fake(module_fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The module's fake at its defaults for this test, and again after it: an answer the test
    left hanging then holds up neither the next test nor the server's stop."""
    module_fake_openai.reset()
    yield module_fake_openai
    module_fake_openai.reset()


@pytest.fixture
def setup(module_setup: OpenAISetup, fresh_fake: FakeOpenAI) -> OpenAISetup:
    """The module's server (its ``module_setup`` fixture), with the fake at its defaults."""
    assert module_setup.fake is fresh_fake
    return module_setup


@contextmanager
def serve_backend(
    request: pytest.FixtureRequest, workdir: Path, name: str, *, mysql_s3: bool, **settings: str
) -> Iterator[Backend]:
    """``python -m app`` in ``workdir`` with ``settings`` on top: on its embedded SQLite and
    folder, or with ``mysql_s3`` on a scratch MySQL database and a fresh bucket on moto's S3;
    stopped, and its database dropped, on leaving."""
    if not mysql_s3:
        server = start_live_server(workdir, **settings)
        try:
            yield Backend(name, server, f"sqlite:///{workdir / 'pixyproxy.db'}")
        finally:
            server.stop()
        return
    request.getfixturevalue("mysql_available")
    moto_endpoint: str = request.getfixturevalue("moto_endpoint")
    bucket = f"pixy-{uuid.uuid4().hex[:12]}"
    database_url = create_scratch_database()
    server = start_live_server(
        workdir,
        PIXY_DATABASE_URL=database_url,
        PIXY_STORAGE_URL=f"s3://{bucket}/images",
        PIXY_S3_ENDPOINT_URL=moto_endpoint,
        PIXY_S3_CREATE_BUCKET="true",
        **S3_CREDENTIALS,
        **settings,
    )
    try:
        yield Backend(name, server, database_url, bucket, moto_endpoint)
    finally:
        server.stop()
        drop_scratch_database(database_url)


@pytest.fixture(scope="module", params=["embedded", "mysql+s3+openai"])
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    module_fake_openai: FakeOpenAI,
) -> Iterator[Backend]:
    """The service on its embedded defaults, then on MySQL, moto's S3 and the fake OpenAI."""
    workdir = tmp_path_factory.mktemp("server")
    if request.param == "embedded":
        with serve_backend(request, workdir, request.param, mysql_s3=False) as embedded:
            yield embedded
        return
    with serve_backend(
        request,
        workdir,
        request.param,
        mysql_s3=True,
        **openai_settings(module_fake_openai.base_url),
        PIXY_OPENAI_TIMEOUT="2",
    ) as external:
        external.fake = module_fake_openai
        yield external


@contextmanager
def seeded_server(
    request: pytest.FixtureRequest,
    workdir: Path,
    rows: int,
    prompt_of: Callable[[int, random.Random], str] = four_words,
    **settings: str,
) -> Iterator[tuple[LiveServer, str, list[str]]]:
    """A server on SQLite, or on a scratch MySQL database where ``request.param`` is "mysql",
    holding ``rows`` seeded images; yields it, its database URL and the images' guids, oldest
    first. Stopped, and its database dropped, on leaving."""
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'pixy.db'}"
    else:
        request.getfixturevalue("mysql_available")
        url = create_scratch_database()
    database = open_database(url, pool_size=1)
    try:
        init_database(database)
        guids = seed_images(database, rows, prompt_of)
    finally:
        database.close()
    live = start_live_server(workdir, PIXY_DATABASE_URL=url, **settings)
    try:
        yield live, url, guids
    finally:
        live.stop()
        if request.param == "mysql":
            drop_scratch_database(url)
