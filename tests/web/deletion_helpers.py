"""Looking at a live server's database and store directly, for the deletion tests."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.fixtures import LiveServer, mysql_connect

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass
class Place:
    """A running server, its database, and its folder or bucket."""

    server: LiveServer
    database_url: str
    folder: Path | None = None
    s3: S3Client | None = None
    bucket: str | None = None


def query(database_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (``?`` placeholders), straight from the database."""
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn, conn:
            return list(conn.execute(sql, params).fetchall())
    with mysql_connect(database_url) as mysql:
        cursor = mysql.cursor()
        cursor.execute(sql.replace("?", "%s"), params)
        mysql.commit()
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in cursor]


def count_rows(database_url: str, table: str, column: str, value: str) -> int:
    sql = f"SELECT COUNT(*) FROM {table} WHERE {column} = ?"
    return int(query(database_url, sql, value)[0][0])


def set_owner(database_url: str, guid: str, owner: str | None) -> None:
    query(database_url, "UPDATE images SET owner = ? WHERE guid = ?", owner, guid)


def objects_of(place: Place, guid: str) -> list[str]:
    """The keys of stored objects whose name starts with the guid."""
    if place.folder is not None:
        return sorted(path.name for path in place.folder.glob(f"{guid}*"))
    assert place.s3 is not None and place.bucket is not None
    listed = place.s3.list_objects_v2(Bucket=place.bucket, Prefix=f"images/{guid}")
    return sorted(item["Key"] for item in listed.get("Contents", []))
