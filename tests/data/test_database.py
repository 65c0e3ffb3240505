"""The connection pool and URL parsing, on SQLite and MySQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest

from app.core.exceptions import ConfigurationError, DatabaseError, DatabaseUnavailable
from app.data.database import Database, open_database, parse_database_url, to_pyformat
from tests.fakes.tcp_proxy import TcpProxy


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///pixy.db", {"dialect": "sqlite", "path": "pixy.db"}),
        ("sqlite:////var/lib/pixy.db", {"dialect": "sqlite", "path": "/var/lib/pixy.db"}),
        (
            "mysql://app:p%40ss@db.internal:3307/pixy",
            {
                "dialect": "mysql",
                "host": "db.internal",
                "port": 3307,
                "user": "app",
                "password": "p@ss",
                "database": "pixy",
            },
        ),
        ("mysql+pymysql://root@127.0.0.1/test", {"dialect": "mysql", "port": 3306, "user": "root"}),
    ],
)
def test_parse_database_url(url: str, expected: dict[str, object]) -> None:
    parsed = parse_database_url(url)
    for field, value in expected.items():
        assert getattr(parsed, field) == value


@pytest.mark.parametrize(
    "url", ["postgres://x/y", "sqlite:///", "sqlite:///:memory:", "mysql://host-only", "nothing"]
)
def test_parse_database_url_refuses_what_it_cannot_open(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_database_url(url)


def test_named_parameters_become_pyformat_and_percent_is_literal() -> None:
    sql = "SELECT * FROM t WHERE a = :a AND b LIKE '50%' AND c = :c_2"
    assert to_pyformat(sql) == "SELECT * FROM t WHERE a = %(a)s AND b LIKE '50%%' AND c = %(c_2)s"


def test_round_trip_with_named_parameters(database: Database) -> None:
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, label VARCHAR(40))")
    database.execute("INSERT INTO t (id, label) VALUES (:id, :label)", {"id": 1, "label": "a'b%"})
    assert database.fetch_all("SELECT label FROM t WHERE id = :id", {"id": 1}) == [
        {"label": "a'b%"}
    ]


def test_failed_unit_of_work_is_rolled_back(database: Database) -> None:
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(DatabaseError), database.connection() as conn:
        cursor = conn.cursor()
        cursor.execute("BEGIN")  # one transaction for both statements
        cursor.execute(database.prepare("INSERT INTO t (id) VALUES (:id)"), {"id": 1})
        cursor.execute(database.prepare("INSERT INTO t (id) VALUES (:id)"), {"id": 1})
    assert database.fetch_all("SELECT id FROM t") == []


def test_a_transaction_begun_in_a_unit_of_work_is_committed(database: Database) -> None:
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with database.connection() as conn:
        cursor = conn.cursor()
        cursor.execute("BEGIN")
        cursor.execute(database.prepare("INSERT INTO t (id) VALUES (:id)"), {"id": 1})
        cursor.execute(database.prepare("INSERT INTO t (id) VALUES (:id)"), {"id": 2})
    # Read through another pool: a transaction left open would hide the rows from it.
    other = Database(database.url, database._connect, pool_size=1)
    assert other.fetch_all("SELECT id FROM t ORDER BY id") == [{"id": 1}, {"id": 2}]
    other.close()


def test_pool_reuses_connections_across_threads(database: Database) -> None:
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    errors: list[BaseException] = []

    def insert(start: int) -> None:
        try:
            for i in range(start, start + 20):
                database.execute("INSERT INTO t (id) VALUES (:id)", {"id": i})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=insert, args=(n * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert database.fetch_all("SELECT COUNT(*) AS n FROM t") == [{"n": 160}]
    assert database._idle.qsize() <= 4  # never more connections than the pool size


def test_unreachable_mysql_is_database_unavailable() -> None:
    db = open_database("mysql://root@127.0.0.1:1/none", pool_size=1)
    with pytest.raises(DatabaseUnavailable):
        db.fetch_all("SELECT 1")


def test_mysql_connections_share_one_tls_context(mysql_url: str) -> None:
    # pymysql would load every system CA again for each connection (34 ms each here).
    db = open_database(mysql_url, pool_size=2)
    try:
        with db.connection() as first, db.connection() as second:
            assert first is not second
            assert first.ctx is second.ctx
    finally:
        db.close()


def test_fetch_column_returns_the_first_column_of_each_row(database: Database) -> None:
    database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(10))")
    for n, name in enumerate(["b", "a", "c"]):
        database.execute("INSERT INTO t (id, name) VALUES (:id, :name)", {"id": n, "name": name})
    assert database.fetch_column("SELECT name FROM t ORDER BY id DESC") == ["c", "a", "b"]
    assert database.fetch_column("SELECT name FROM t WHERE id > 9") == []


@pytest.fixture
def proxied_mysql(mysql_url: str) -> Iterator[tuple[Database, TcpProxy]]:
    """A pool on the scratch MySQL database, reached through a proxy the test can cut."""
    direct = urlsplit(mysql_url)
    proxy = TcpProxy(direct.hostname or "127.0.0.1", direct.port or 3306)
    db = open_database(direct._replace(netloc=f"root@127.0.0.1:{proxy.port}").geturl(), pool_size=2)
    yield db, proxy
    db.close()
    proxy.close()


def test_a_read_after_a_database_restart_runs_again_on_a_fresh_connection(
    proxied_mysql: tuple[Database, TcpProxy],
) -> None:
    db, proxy = proxied_mysql
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t (id) VALUES (1)")
    assert db.fetch_column("SELECT id FROM t") == [1]  # a connection now waits in the pool
    proxy.cut()  # the server went away under the pooled connection, and came back
    proxy.restore()
    # The SELECT left on the dead connection and its answer never came (error 2013).
    assert db.fetch_all("SELECT id FROM t") == [{"id": 1}]


def test_a_write_that_may_have_reached_the_server_is_not_run_twice(
    proxied_mysql: tuple[Database, TcpProxy],
) -> None:
    db, proxy = proxied_mysql
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY AUTO_INCREMENT, n INTEGER)")
    db.execute("INSERT INTO t (n) VALUES (1)")
    proxy.cut()
    proxy.restore()
    with pytest.raises(DatabaseUnavailable) as lost:
        db.execute("INSERT INTO t (n) VALUES (2)")
    assert isinstance(lost.value.__cause__, pymysql.err.OperationalError)
    assert lost.value.__cause__.args[0] == 2013  # sent, answer lost: it may have committed
    assert db.fetch_column("SELECT n FROM t ORDER BY id") == [1]


@pytest.mark.parametrize("replace", [False, True], ids=["deleted", "replaced"])
def test_an_sqlite_file_deleted_or_replaced_under_the_pool_is_unavailable(
    tmp_path: Path, replace: bool
) -> None:
    path = tmp_path / "pixy.db"
    db = open_database(f"sqlite:///{path}", pool_size=2)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t (id) VALUES (1)")
    path.unlink()  # the open connection would go on writing to a file no one can see
    if replace:
        path.write_bytes(b"")
    with pytest.raises(DatabaseUnavailable):
        db.execute("INSERT INTO t (id) VALUES (2)")
    with pytest.raises(DatabaseUnavailable):
        db.fetch_all("SELECT id FROM t")
    assert path.exists() == replace  # no empty database was made in its place
    db.close()


def test_a_statement_that_lost_a_lock_wait_runs_once_more(mysql_url: str) -> None:
    db = open_database(mysql_url, pool_size=2)
    db.execute("CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)")
    db.execute("INSERT INTO counters VALUES (1, 0)")
    parts = urlsplit(mysql_url)
    holder = pymysql.connect(
        host=parts.hostname, port=parts.port or 3306, user="root", database=parts.path[1:]
    )
    holder.cursor().execute("BEGIN")
    holder.cursor().execute("SELECT n FROM counters WHERE id = 1 FOR UPDATE")
    # The first try waits 2 s for the row and loses; the lock is let go a second later, while
    # the second try waits.
    release = threading.Timer(3.0, holder.commit)
    release.start()
    try:
        updated = db.execute(
            "SET STATEMENT innodb_lock_wait_timeout = 2 FOR"
            " UPDATE counters SET n = n + 1 WHERE id = 1"
        )
        count = db.fetch_column("SELECT n FROM counters WHERE id = 1")
    finally:
        release.join()
        holder.close()
        db.close()
    assert updated == 1
    assert count == [1]  # run twice would have been 2; lost once, it ran once more
