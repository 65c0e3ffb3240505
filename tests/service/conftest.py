"""Fixtures for the service layer: one database of each kind the service supports."""

from __future__ import annotations

from tests.data.conftest import database, database_url

__all__ = ["database", "database_url"]
