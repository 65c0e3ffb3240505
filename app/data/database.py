"""Connections to MySQL or SQLite, pooled, with driver errors translated to ours.

SQL in this package is written once with ``:name`` parameters; for MySQL it is rewritten to
pymysql's ``%(name)s`` style, so no statement is ever built from input.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.converters
import pymysql.cursors
from pymysql.constants import FIELD_TYPE, SERVER_STATUS

from app.core.cancellation import Cancellation
from app.core.exceptions import (
    ConfigurationError,
    DatabaseError,
    DatabaseUnavailable,
    PixyProxyException,
    QueryCancelled,
    QueryTimeout,
)
from app.core.metrics import DATABASE_DURATION, timed
from app.data.dialect import Dialect, fold, time_limited

Row = dict[str, Any]

_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# MySQL client error codes that mean the server is unreachable or the connection is gone.
_MYSQL_CONNECTION_ERRORS = frozenset({2003, 2006, 2013, 2055, 1040, 1053, 1205, 1213})
_MYSQL_LOCK_LOST = frozenset({1205, 1213})  # lock wait timeout, deadlock
_MYSQL_DUPLICATE_KEY = 1062
# max_statement_time exceeded (MariaDB), MAX_EXECUTION_TIME exceeded (MySQL).
_MYSQL_STATEMENT_TIMEOUTS = frozenset({1969, 3024})
_MYSQL_QUERY_INTERRUPTED = 1317  # KILL QUERY stopped the statement
_MYSQL_IN_TRANSACTION = SERVER_STATUS.SERVER_STATUS_IN_TRANS
_MYSQL_GONE_AWAY = 2006
# The connection broke under a statement: gone away (2006), lost during the query (2013),
# lost during the handshake of a reconnect (2055). The server may have run the statement.
_MYSQL_LOST_CONNECTION = frozenset({_MYSQL_GONE_AWAY, 2013, 2055})
_T = TypeVar("_T")
_POOL_WAIT_SECONDS = 10.0
_IDLE_PING_SECONDS = 30.0
# SQLite calls the deadline check every this many virtual machine steps: about every 0.1 ms of
# a scan. Each call takes the interpreter's lock, which the scan itself runs without.
_SQLITE_PROGRESS_STEPS = 10_000
# How long an SQLite statement waits for another connection's lock before "database is locked".
_SQLITE_BUSY_SECONDS = 10.0
# The pause between two tries at switching a new SQLite file to WAL (see _switch_to_wal).
_SQLITE_WAL_SWITCH_PAUSE_SECONDS = 0.005


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``PIXY_DATABASE_URL``."""

    dialect: Dialect
    path: str = ""
    host: str = ""
    port: int = 3306
    user: str = ""
    password: str = ""
    database: str = ""


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse ``sqlite:///relative.db``, ``sqlite:////abs.db`` or ``mysql://u:p@host:port/db``."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path or path == ":memory:":
            raise ConfigurationError("PIXY_DATABASE_URL needs an SQLite file path")
        return DatabaseUrl(dialect="sqlite", path=path)
    if scheme in ("mysql", "mysql+pymysql"):
        parts = urlsplit(url)
        database = parts.path.lstrip("/")
        if not parts.hostname or not database:
            raise ConfigurationError("PIXY_DATABASE_URL needs mysql://user:pass@host:port/db")
        return DatabaseUrl(
            dialect="mysql",
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=database,
        )
    raise ConfigurationError("PIXY_DATABASE_URL must start with sqlite:/// or mysql://")


@lru_cache(maxsize=256)
def to_pyformat(sql: str) -> str:
    """Rewrite ``:name`` parameters as pymysql's ``%(name)s``, escaping literal percents."""
    return _NAMED_PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class Database:
    """A fixed-size pool of connections to one database."""

    def __init__(self, url: DatabaseUrl, connect: Callable[[], Any], *, pool_size: int) -> None:
        self.url = url
        self.dialect: Dialect = url.dialect
        self.pool_size = pool_size
        self._connect = connect
        self._idle: queue.LifoQueue[tuple[Any, float]] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        # MySQL connections hand out dict rows by default; a plain cursor skips building them.
        self._tuple_cursor: tuple[Any, ...] = (
            (pymysql.cursors.Cursor,) if url.dialect == "mysql" else ()
        )
        # The SQLite file the pool opened (device, inode), once it has opened one.
        self._sqlite_file: tuple[int, int] | None = None

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """Borrow a connection for one unit of work; it is committed or rolled back on return.

        MySQL connections run in autocommit mode, so a single statement is its own transaction
        and a read costs no COMMIT round trip; a unit of several statements that must hold
        together starts one with ``BEGIN``. SQLite commits here.
        """
        if not self._slots.acquire(timeout=_POOL_WAIT_SECONDS):
            raise DatabaseUnavailable("no database connection became free in time")
        conn = None
        try:
            conn = self._checkout()
            yield conn
            if self.dialect == "sqlite" or conn.server_status & _MYSQL_IN_TRANSACTION:
                conn.commit()
        except BaseException as exc:
            if conn is not None:
                conn = self._discard_or_rollback(conn, exc)
            if _is_driver_error(exc):
                raise self.translate(exc) from exc
            raise
        finally:
            if conn is not None:
                self._idle.put((conn, time.monotonic()))
            self._slots.release()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor in a transaction that writes, committed when the block ends.

        MySQL connections run in autocommit, so the transaction is begun explicitly; SQLite's
        ``BEGIN IMMEDIATE`` takes the write lock at once, so that two writers never deadlock
        upgrading their read locks.
        """
        with self.connection() as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN" if self.dialect == "mysql" else "BEGIN IMMEDIATE")
            yield cursor

    def claim(
        self,
        due: str,
        params: Mapping[str, Any],
        take: str,
        take_params: Callable[[Row], Mapping[str, Any]],
    ) -> list[Row]:
        """Lock the rows ``due`` selects and run ``take`` on each, in one transaction.

        On MySQL 8 / MariaDB 10.6+ rows that other transactions hold are skipped (``SKIP
        LOCKED``), so claimers on several replicas neither wait for nor take each other's rows;
        on SQLite the transaction is the only writer. ``take`` should address one row by its
        key: a statement over a list may scan and lock rows being inserted.
        """
        locking = due + " FOR UPDATE SKIP LOCKED" if self.dialect == "mysql" else due
        with self.transaction() as cursor:
            cursor.execute(self.prepare(locking), dict(params))
            rows = [dict(row) for row in cursor.fetchall()]
            if rows:
                cursor.executemany(self.prepare(take), [dict(take_params(r)) for r in rows])
        return rows

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run one statement in its own transaction; return the affected row count."""

        def run(conn: Any) -> int:
            cursor = conn.cursor()
            cursor.execute(self.prepare(sql), dict(params or {}))
            return int(cursor.rowcount)

        with timed(DATABASE_DURATION, _kind(sql)):
            return self._with_fresh_retry(run, read=False)

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for each of ``rows`` in one transaction, in one round trip where
        the driver can (pymysql sends an INSERT ... VALUES as multi-row INSERTs)."""

        def run(conn: Any) -> None:
            conn.cursor().executemany(self.prepare(sql), [dict(row) for row in rows])

        if rows:
            with timed(DATABASE_DURATION, _kind(sql)):
                self._with_fresh_retry(run, read=False)

    def insert_unless_duplicate(self, sql: str, params: Mapping[str, Any]) -> bool:
        """Run an INSERT; False, instead of an error, when the row's key already exists."""
        try:
            self.execute(sql, params)
        except DatabaseError as exc:
            if _is_duplicate_key(exc.__cause__):
                return False
            raise
        return True

    def fetch_all(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        cancel: Cancellation | None = None,
    ) -> list[Row]:
        """Run one query and return its rows as dicts.

        With ``timeout``, the database stops the query after that many seconds and
        ``QueryTimeout`` is raised: its connection goes back to the pool, free again. With
        ``cancel``, cancelling the token stops the running query the same way, and
        ``QueryCancelled`` is raised.
        """
        return [dict(row) for row in self._fetch(sql, params, timeout, cancel)]

    def fetch_column(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        cancel: Cancellation | None = None,
    ) -> list[Any]:
        """Run one query and return its first column: no dict per row, for long results.

        ``timeout`` and ``cancel`` as for ``fetch_all``."""
        rows = self._fetch(sql, params, timeout, cancel, *self._tuple_cursor)
        return [row[0] for row in rows]

    def _fetch(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,
        cancel: Cancellation | None,
        *cursor_class: Any,
    ) -> Any:
        """The rows of one query, as the driver's cursor of ``cursor_class`` gives them."""

        def run(conn: Any) -> Any:
            if cancel is not None and cancel.cancelled:
                raise QueryCancelled("nobody waits for this query any more")
            cursor = conn.cursor(*cursor_class)
            with self._time_limit(conn, sql, timeout, cancel) as statement:
                cursor.execute(statement, dict(params or {}))
                return cursor.fetchall()

        with timed(DATABASE_DURATION, _kind(sql)):
            try:
                return self._with_fresh_retry(run, read=True)
            except (QueryTimeout, DatabaseError) as exc:
                # Interrupted by the token, whatever the driver calls it.
                if cancel is not None and cancel.cancelled:
                    raise QueryCancelled("the query was stopped: nobody waits for it") from exc
                raise

    def _with_fresh_retry(self, work: Callable[[Any], _T], *, read: bool) -> _T:
        """Run ``work`` on a pooled connection; once more on a new one if that one broke.

        A pooled connection is dead after the database restarted while it sat idle, and the
        driver only finds out when a statement is sent (error 2006) or its answer is awaited
        (2013). A read is safe to run again either way; a write only when it never left, since
        the server may have committed it before the connection dropped. A statement that lost a
        deadlock or a lock wait was rolled back whole (each runs in its own transaction), so it
        runs again too: jobs being claimed and submitted at once make such losers now and then.
        """
        try:
            with self.connection() as conn:
                return work(conn)
        except DatabaseUnavailable as exc:
            cause = exc.__cause__
            if not (_never_sent(cause) or _lost_lock(cause) or (read and _lost_under(cause))):
                raise
        with self.connection() as conn:
            return work(conn)

    def prepare(self, sql: str) -> str:
        """The statement in this driver's parameter style."""
        return to_pyformat(sql) if self.dialect == "mysql" else sql

    @contextmanager
    def _time_limit(
        self, conn: Any, sql: str, timeout: float | None, cancel: Cancellation | None
    ) -> Iterator[str]:
        """The statement to run on ``conn``, stopped by the database after ``timeout`` seconds
        or once ``cancel`` is cancelled.

        A client that gives up does not stop a query running in a worker thread; a deadline
        does, so that a costly search cannot hold a connection for long, and the token stops
        it sooner when nobody waits for it any more.
        """
        if self.dialect == "mysql":
            statement = self.prepare(sql)
            if timeout is not None:
                mariadb = "MariaDB" in conn.get_server_info()
                statement = time_limited(statement, timeout, mariadb=mariadb)
            if cancel is None:
                yield statement
                return
            running = _RunningStatement(self._connect, conn.thread_id())
            try:
                with cancel.on_cancel(running.kill_soon):
                    yield statement
            finally:
                running.finish()
        elif timeout is None and cancel is None:
            yield sql
        else:
            deadline = time.monotonic() + timeout if timeout is not None else float("inf")
            token = cancel or Cancellation()
            conn.set_progress_handler(
                lambda: token.cancelled or time.monotonic() > deadline, _SQLITE_PROGRESS_STEPS
            )
            try:
                yield sql  # fetched inside the block: SQLite runs the query while rows are read
            finally:
                conn.set_progress_handler(None, 0)

    def translate(self, exc: BaseException) -> PixyProxyException:
        """Map a driver exception onto the PixyProxy exception tree."""
        if isinstance(exc, pymysql.err.OperationalError | pymysql.err.InterfaceError):
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
            if code in _MYSQL_STATEMENT_TIMEOUTS:
                return QueryTimeout("the query ran past its time limit and was stopped")
            if code == _MYSQL_QUERY_INTERRUPTED:
                return QueryCancelled("the query was stopped before it ended")
            if isinstance(exc, pymysql.err.InterfaceError) or code in _MYSQL_CONNECTION_ERRORS:
                return DatabaseUnavailable("the database is unreachable")
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return DatabaseUnavailable("the database is busy")
        if isinstance(exc, sqlite3.OperationalError) and str(exc) == "interrupted":
            # Only the deadline's progress handler interrupts a query.
            return QueryTimeout("the query ran past its time limit and was stopped")
        return DatabaseError("the database refused the statement")

    def close(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                conn, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            _close_quietly(conn)

    def _checkout(self) -> Any:
        if self.dialect == "sqlite":
            self._check_sqlite_file()
        try:
            conn, idle_since = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
            if self.dialect == "sqlite" and self._sqlite_file is None:
                self._sqlite_file = _file_identity(self.url.path)
            return conn
        if self.dialect == "mysql" and time.monotonic() - idle_since > _IDLE_PING_SECONDS:
            # A connection idle for a while may have been closed by the server or a proxy.
            try:
                conn.ping(reconnect=True)
            except pymysql.err.MySQLError:
                _close_quietly(conn)
                return self._connect()
        return conn

    def _check_sqlite_file(self) -> None:
        """Refuse to go on once the SQLite file was deleted or replaced under the pool.

        Open connections keep reading and writing a deleted file, which vanishes with the
        process: every write would answer 200 and be lost, and a new connection would start
        an empty database. So every unit of work, and readiness with it, fails instead.
        """
        if self._sqlite_file is not None and _file_identity(self.url.path) != self._sqlite_file:
            raise DatabaseUnavailable("the SQLite database file was deleted or replaced")

    def _discard_or_rollback(self, conn: Any, exc: BaseException) -> Any:
        """Roll back after a failed unit of work; drop the connection if it is broken.

        A broken connection usually means the server restarted or the network dropped, which
        breaks the idle ones too: they are all dropped, so later requests start afresh.
        """
        broken = _is_driver_error(exc) and isinstance(self.translate(exc), DatabaseUnavailable)
        if broken and not _lost_lock(exc):
            _close_quietly(conn)
            self.close()
            return None
        try:
            conn.rollback()
        except Exception:
            _close_quietly(conn)
            return None
        return conn


class _RunningStatement:
    """A statement running on one MySQL connection, which another connection can stop.

    ``KILL QUERY`` stops whatever the connection runs when it arrives: the lock keeps it from
    being sent once the statement has finished and the connection may run another one.
    """

    def __init__(self, connect: Callable[[], Any], thread_id: int) -> None:
        self._connect = connect
        self._thread_id = thread_id
        self._lock = threading.Lock()
        self._running = True

    def kill_soon(self) -> None:
        """Send ``KILL QUERY`` from a thread of its own: connecting must not block the caller."""
        threading.Thread(target=self._kill, name="kill-query", daemon=True).start()

    def finish(self) -> None:
        """The statement ended: from now on, a kill would hit another one."""
        with self._lock:
            self._running = False

    def _kill(self) -> None:
        with self._lock:
            if not self._running:
                return
            # Best effort: if the kill cannot be sent, the statement's deadline still stops it.
            with contextlib.suppress(Exception):
                killer = self._connect()
                try:
                    killer.cursor().execute("KILL QUERY %s", (self._thread_id,))
                finally:
                    _close_quietly(killer)


def _file_identity(path: str) -> tuple[int, int] | None:
    """The device and inode of the file at ``path``; None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _kind(sql: str) -> str:
    """The statement's verb (select, insert, ...), a label with few values."""
    return sql.lstrip().split(None, 1)[0].lower()


def _never_sent(exc: BaseException | None) -> bool:
    """Whether a driver error happened before the statement reached the server."""
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return (
        isinstance(exc, pymysql.err.OperationalError)
        and bool(exc.args)
        and exc.args[0] == _MYSQL_GONE_AWAY
    )


def _lost_lock(exc: BaseException | None) -> bool:
    """Whether MySQL rolled a statement back for a deadlock or a lock wait (the connection is
    fine)."""
    return (
        isinstance(exc, pymysql.err.OperationalError)
        and bool(exc.args)
        and exc.args[0] in _MYSQL_LOCK_LOST
    )


def _lost_under(exc: BaseException | None) -> bool:
    """Whether a driver error says an open connection broke (not that none could be made)."""
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return (
        isinstance(exc, pymysql.err.OperationalError)
        and bool(exc.args)
        and exc.args[0] in _MYSQL_LOST_CONNECTION
    )


def is_duplicate_key(exc: BaseException | None) -> bool:
    """Whether a driver error says the row's unique key exists already."""
    return _is_duplicate_key(exc)


def _is_duplicate_key(exc: BaseException | None) -> bool:
    if isinstance(exc, pymysql.err.IntegrityError):
        return bool(exc.args) and exc.args[0] == _MYSQL_DUPLICATE_KEY
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


def _is_driver_error(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.MySQLError | sqlite3.Error)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):  # the connection is being thrown away either way
        conn.close()


def open_database(url: str, *, pool_size: int) -> Database:
    """Build the pool for ``PIXY_DATABASE_URL``; connections are opened on first use."""
    parsed = parse_database_url(url)
    if parsed.dialect == "sqlite":
        return Database(parsed, lambda: _connect_sqlite(parsed.path), pool_size=pool_size)
    return Database(parsed, lambda: _connect_mysql(parsed), pool_size=pool_size)


def _parse_datetime(value: str | bytes) -> datetime | str | None:
    """DATETIME columns through the C parser; pymysql's own (a regex) for anything unusual."""
    text = value.decode("ascii") if isinstance(value, bytes) else value
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        parsed: datetime | str | None = pymysql.converters.convert_datetime(text)
        return parsed


# pymysql's conversions, but DATETIME parsing (a quarter of reading a page of rows) done in C.
_MYSQL_CONVERSIONS: dict[Any, Any] = {
    **pymysql.converters.conversions,
    FIELD_TYPE.DATETIME: _parse_datetime,
    FIELD_TYPE.TIMESTAMP: _parse_datetime,
}


class _MySQLConnection(pymysql.connections.Connection):
    """pymysql's connection, but with one TLS context for all of them.

    Unless told otherwise, pymysql offers TLS without checking certificates, and builds a fresh
    default context for each connection to do it, loading every system CA: 34 ms a connection
    here, against 1 ms for all the rest of connecting. The context is the same every time.
    """

    _shared_context: ClassVar[ssl.SSLContext | None] = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        create: Any = super()._create_ssl_ctx  # type: ignore[misc]  # not in pymysql's stubs
        if sslp:  # explicit TLS options: pymysql's own handling
            context: ssl.SSLContext = create(sslp)
            return context
        cls = type(self)
        if cls._shared_context is None:
            cls._shared_context = create(sslp)
        return cls._shared_context


def _connect_mysql(url: DatabaseUrl) -> pymysql.connections.Connection[Any]:
    try:
        return _MySQLConnection(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password,
            database=url.database,
            charset="utf8mb4",
            cursorclass=pymysql.cursors.DictCursor,
            autocommit=True,
            connect_timeout=5,
            read_timeout=30,
            write_timeout=30,
            init_command="SET time_zone = '+00:00'",
            conv=_MYSQL_CONVERSIONS,
        )
    except pymysql.err.MySQLError as exc:
        # Clients get this detail in a 503: what to fix is for the operator (``refusal_hint``).
        raise DatabaseUnavailable("the database is unreachable") from exc


# Why a MySQL server refused a new connection, in words an operator can act on.
_CONNECT_REFUSALS = {
    1044: "the database user may not use the database named in PIXY_DATABASE_URL",
    1045: "the database refused the user or password in PIXY_DATABASE_URL",
    1049: "the database named in PIXY_DATABASE_URL does not exist: create it first",
}


def refusal_hint(cause: BaseException | None) -> str | None:
    """What to fix when the database refused to connect for a reason the operator can mend."""
    if isinstance(cause, pymysql.err.MySQLError) and cause.args:
        return _CONNECT_REFUSALS.get(cause.args[0])
    return None


def _connect_sqlite(path: str) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=_SQLITE_BUSY_SECONDS, check_same_thread=False, isolation_level="DEFERRED"
    )
    conn.row_factory = sqlite3.Row
    conn.create_function("pp_fold", 1, fold, deterministic=True)
    _switch_to_wal(conn)
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting for a connection that holds its write lock.

    On a file still in rollback-journal mode (a new one), the switch reads the header under a
    shared lock, then asks for the write lock. SQLite does not call the busy handler for that
    upgrade (two readers waiting for each other would deadlock): while another connection holds
    the write lock, typically another replica switching the same new file, the switch fails at
    once with SQLITE_BUSY, whatever the busy timeout. Once one switch is committed the file is
    WAL and the switch only reads, so trying again within the busy timeout succeeds.
    """
    deadline = time.monotonic() + _SQLITE_BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(_SQLITE_WAL_SWITCH_PAUSE_SECONDS)
