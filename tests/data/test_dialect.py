"""The dialect helpers, through a real time column on SQLite and MySQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from app.data.database import Database
from app.data.dialect import fold, from_db_time, to_db_time

PARIS_SUMMER = timezone(timedelta(hours=2))
MOMENTS = [
    datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 3, 1, 13, 0, 0, 1, tzinfo=PARIS_SUMMER),  # 11:00:00.000001 UTC
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


def _table(database: Database) -> None:
    column = "DATETIME(6)" if database.dialect == "mysql" else "TEXT"
    database.execute("DROP TABLE IF EXISTS moments")
    database.execute(f"CREATE TABLE moments (n INTEGER PRIMARY KEY, at {column} NOT NULL)")


def test_a_moment_reads_back_as_the_same_aware_utc_moment(database: Database) -> None:
    _table(database)
    for n, moment in enumerate(MOMENTS):
        params = {"n": n, "at": to_db_time(moment, database.dialect)}
        database.execute("INSERT INTO moments (n, at) VALUES (:n, :at)", params)
    rows = database.fetch_all("SELECT n, at FROM moments ORDER BY n")
    back = [from_db_time(row["at"]) for row in rows]
    assert back == MOMENTS
    assert all(moment.tzinfo is UTC for moment in back)


def test_stored_moments_compare_in_the_database_as_the_moments_do(database: Database) -> None:
    _table(database)
    for n, moment in enumerate(MOMENTS):
        params = {"n": n, "at": to_db_time(moment, database.dialect)}
        database.execute("INSERT INTO moments (n, at) VALUES (:n, :at)", params)
    pivot = datetime(2026, 3, 1, 11, 30, tzinfo=UTC)
    rows = database.fetch_all(
        "SELECT n FROM moments WHERE at > :pivot ORDER BY at",
        {"pivot": to_db_time(pivot, database.dialect)},
    )
    assert [row["n"] for row in rows] == [0, 3]


def test_a_naive_moment_is_taken_as_utc() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    assert to_db_time(naive, "sqlite") == to_db_time(naive.replace(tzinfo=UTC), "sqlite")
    assert to_db_time(naive, "mysql") == naive


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Crème BRÛLÉE") == fold("creme brulee")
