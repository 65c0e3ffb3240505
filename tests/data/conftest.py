"""Fixtures for the data layer: one database of each kind the service supports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.data.database import Database, open_database


@pytest.fixture(params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: an SQLite file, then a scratch MySQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pixy.db'}"
    url: str = request.getfixturevalue("mysql_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A pool on an empty database, closed after the test."""
    db = open_database(database_url, pool_size=4)
    yield db
    db.close()
