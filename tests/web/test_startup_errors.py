"""A service that cannot start says why in one line, naming what the operator set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import PROJECT_ROOT, clean_environment, free_port


def start(workdir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """``python -m app`` with these settings, run until it gives up."""
    env = clean_environment(
        PYTHONPATH=str(PROJECT_ROOT), **{"PIXY_PORT": str(free_port()), **settings}
    )
    return subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"PIXY_RETENTION_DAYS": "-1"}, "PIXY_RETENTION_DAYS: Input should be greater than"),
        ({"PIXY_PORT": "eighty"}, "PIXY_PORT: Input should be a valid integer"),
        (
            {"PIXY_JOB_RETENTION_DAYS": "0.5"},
            "PIXY_JOB_RETENTION_DAYS must keep jobs at least PIXY_IDEMPOTENCY_TTL_HOURS",
        ),
    ],
)
def test_a_refused_setting_is_named_in_one_line(
    tmp_path: Path, settings: dict[str, str], said: str
) -> None:
    ran = start(tmp_path, **settings)
    assert ran.returncode == 2
    (line,) = ran.stderr.splitlines()
    assert line.startswith("pixyproxy: ") and said in line
    assert "Traceback" not in ran.stderr + ran.stdout


def test_a_missing_mysql_database_is_named_with_the_servers_words(
    tmp_path: Path, mysql_url: str
) -> None:
    missing = mysql_url.rsplit("/", 1)[0] + "/pixy_no_such_database"
    ran = start(tmp_path, PIXY_DATABASE_URL=missing)
    assert ran.returncode != 0
    lines = ran.stdout.splitlines()
    failed = [line for line in lines if "startup_failed" in line]
    assert len(failed) == 1
    assert "does not exist: create it first" in failed[0]
    assert "Unknown database" in failed[0]  # the server's own words, in the log only
    assert "Traceback" not in ran.stdout + ran.stderr
    assert max(len(line) for line in lines) < 1_000
