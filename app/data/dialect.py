"""What differs between MySQL and SQLite in the values we store, in one place for every table.

Moments are stored as naive UTC: a MySQL ``DATETIME(6)`` (the connection's time zone is UTC) or,
on SQLite, ISO 8601 text with microseconds, which sorts and compares as the moment does. Any
repository writes a moment with ``to_db_time`` and reads it back with ``from_db_time``.

Text comparisons follow MySQL's ``utf8mb4_unicode_ci`` (case and accents ignored); SQLite gets
the same through ``fold``: each image is stored with its folded prompt (``prompt_folded``,
sql/sqlite/010), which substring searches compare against; ``pp_fold``, registered on each of
the service's connections, folds the rows some other writer left without one.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Literal

Dialect = Literal["mysql", "sqlite"]
DbTime = datetime | str
INSERT_IGNORING: dict[Dialect, str] = {"mysql": "INSERT IGNORE", "sqlite": "INSERT OR IGNORE"}
"""An INSERT that skips rows whose key exists, on each dialect."""


def to_db_time(moment: datetime, dialect: Dialect) -> DbTime:
    """A moment as a time column stores it on this dialect; a naive moment is taken as UTC."""
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return naive_utc if dialect == "mysql" else naive_utc.isoformat(timespec="microseconds")


def from_db_time(value: DbTime) -> datetime:
    """A time column's value (a naive UTC datetime or ISO text) as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC)


def fold(text: str) -> str:
    """Case and accents folded, as MySQL's utf8mb4_unicode_ci compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def time_limited(sql: str, seconds: float, *, mariadb: bool) -> str:
    """A MySQL or MariaDB SELECT that the server stops after ``seconds``.

    MariaDB bounds any statement with ``SET STATEMENT max_statement_time``; MySQL (5.7.8 and
    later) bounds a SELECT with the ``MAX_EXECUTION_TIME`` optimizer hint, in milliseconds.
    SQLite has neither: the pool bounds its queries with a progress handler instead.
    """
    statement = sql.lstrip()
    if statement[:6].upper() != "SELECT":
        raise ValueError("only a SELECT can be given a time limit")
    if mariadb:
        return f"SET STATEMENT max_statement_time={seconds:.3f} FOR {statement}"
    return f"SELECT /*+ MAX_EXECUTION_TIME({max(1, round(seconds * 1000))}) */{statement[6:]}"
