"""Shared builders for the tests: MySQL scratch databases, moto's S3 server, live servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import boto3
import httpx
import pymysql

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_TEST_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mysql_admin_url() -> str:
    """The MySQL server the tests may use, from ``PIXY_TEST_MYSQL_URL``."""
    return os.environ.get("PIXY_TEST_MYSQL_URL", DEFAULT_TEST_MYSQL_URL)


def mysql_connect(url: str, database: str | None = None) -> pymysql.connections.Connection[Any]:
    """A plain pymysql connection for a test to look at tables directly."""
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=database if database is not None else parts.path.lstrip("/"),
        charset="utf8mb4",
        cursorclass=pymysql.cursors.DictCursor,
        autocommit=True,
        connect_timeout=3,
    )


def mysql_unreachable_reason() -> str | None:
    """Why MySQL tests cannot run here, or None when they can."""
    try:
        mysql_connect(mysql_admin_url()).close()
    except pymysql.err.MySQLError as exc:
        return f"no MySQL at PIXY_TEST_MYSQL_URL ({mysql_admin_url()}): {exc}"
    return None


def create_scratch_database() -> str:
    """Create an empty database for one test; returns its URL."""
    name = f"pixytest_{uuid.uuid4().hex[:12]}"
    with mysql_connect(mysql_admin_url()) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    parts = urlsplit(mysql_admin_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def drop_scratch_database(url: str) -> None:
    """Drop a database made by ``create_scratch_database``."""
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith("pixytest_")
    with mysql_connect(mysql_admin_url()) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def clean_environment(**settings: str) -> dict[str, str]:
    """This environment without PixyProxy, OpenAI or AWS settings, plus ``settings``."""
    prefixes = ("PIXY_", "OPENAI_", "AWS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def run_app_command(workdir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m app ARGS`` to completion in ``workdir`` with only ``settings`` set."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=workdir,
        env=clean_environment(PYTHONPATH=str(PROJECT_ROOT), **settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


FAKE_OPENAI_KEY = "sk-test-not-a-secret"


def openai_settings(base_url: str) -> dict[str, str]:
    """Settings that point the service's OpenAI generator at a fake server."""
    return {
        "PIXY_GENERATOR": "openai",
        "OPENAI_API_KEY": FAKE_OPENAI_KEY,
        "OPENAI_BASE_URL": base_url,
    }


@dataclass
class LiveServer:
    """``python -m app`` running in a subprocess, driven over HTTP."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    workdir: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False, **kwargs)

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_live_server(workdir: Path, **settings: str) -> LiveServer:
    """Start the service from ``settings`` in ``workdir`` and wait until it answers."""
    port = free_port()
    # No drain on SIGTERM unless a test asks for one: stopping a server should be quick.
    settings = {
        "PIXY_SHUTDOWN_DRAIN_SECONDS": "0",
        "PIXY_SHUTDOWN_GRACE_SECONDS": "5",
        **settings,
    }
    env = clean_environment(PIXY_HOST="127.0.0.1", PIXY_PORT=str(port), **settings)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return _launch(workdir, ["-m", "app"], port, env, workdir / f"server-{port}.log")


def wait_until(condition: Callable[[], bool], *, seconds: float = 30) -> None:
    """Wait for ``condition`` to hold, checking every 0.1 s; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {seconds} s")
        time.sleep(0.1)


def start_uvicorn(workdir: Path, *options: str, **settings: str) -> LiveServer:
    """``uvicorn app.main:app OPTIONS`` on 127.0.0.1, as the README's other-server lines run it."""
    port = free_port()
    env = clean_environment(PYTHONPATH=str(PROJECT_ROOT), **settings)
    command = ["-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    return _launch(workdir, [*command, *options], port, env, workdir / f"uvicorn-{port}.log")


def _launch(
    workdir: Path, arguments: list[str], port: int, env: dict[str, str], log_path: Path
) -> LiveServer:
    """Run ``python ARGUMENTS`` in ``workdir``, its output to ``log_path``, until its
    /healthz on ``port`` answers; a server that never does is stopped, its log in the error."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, *arguments],
            cwd=workdir,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(process, f"http://127.0.0.1:{port}", log_path, workdir)
    try:
        wait_until_answers(f"{server.base_url}/healthz", process)
    except RuntimeError as exc:
        server.stop()
        raise RuntimeError(f"{exc}:\n{log_path.read_text()}") from exc
    return server


def wait_until_answers(url: str, process: subprocess.Popen[Any], seconds: float = 30) -> None:
    """Wait for ``url`` to answer anything over HTTP; fail if ``process`` dies first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} at start")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def s3_client(endpoint: str) -> S3Client:
    """A boto3 client for an S3 endpoint of the tests, with the tests' credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    )
