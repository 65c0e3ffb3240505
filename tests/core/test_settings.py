"""The settings object: environment names, parsing, and the exposure check."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from app.core.exceptions import ConfigurationError
from app.core.settings import Settings, is_loopback, webhook_key
from tests.conftest import make_settings
from tests.fixtures import PROJECT_ROOT


def test_defaults_need_no_set_up() -> None:
    settings = make_settings()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.storage_url == "file://./images"
    assert settings.generator == "offline"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.openai_timeout == 300
    assert settings.openai_size == "1024x1024"
    assert settings.log_format == "text"
    assert settings.api_keys == ()


def test_reads_pixy_variables_and_openai_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXY_API_KEYS", " one , two,,three ")
    monkeypatch.setenv("PIXY_GENERATOR", "openai")
    monkeypatch.setenv("PIXY_OPENAI_TIMEOUT", "12.5")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = Settings(_env_file=None)
    assert [key.get_secret_value() for key in settings.api_keys] == ["one", "two", "three"]
    assert settings.generator == "openai"
    assert settings.openai_timeout == 12.5
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-from-env"
    assert settings.openai_base_url == "http://127.0.0.1:9/v1"


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXY_API_KEYS", "very-secret-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    text = repr(Settings(_env_file=None))
    assert "very-secret" not in text


def test_reads_a_dot_env_file(tmp_path: pytest.TempPathFactory) -> None:
    env_file = tmp_path / ".env"  # type: ignore[operator]
    env_file.write_text("PIXY_PORT=9123\nPIXY_LOG_FORMAT=json\n")
    settings = Settings(_env_file=env_file)
    assert (settings.port, settings.log_format) == (9123, "json")


@pytest.mark.parametrize(
    ("name", "value"),
    [("PIXY_GENERATOR", "midjourney"), ("PIXY_PORT", "70000"), ("PIXY_LOG_FORMAT", "xml")],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_jobs_are_kept_at_least_as_long_as_their_idempotency_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PIXY_IDEMPOTENCY_TTL_HOURS", "72")
    monkeypatch.setenv("PIXY_JOB_RETENTION_DAYS", "2")
    with pytest.raises(ValidationError, match="PIXY_IDEMPOTENCY_TTL_HOURS"):
        Settings(_env_file=None)
    for kept in ("3", "0"):  # 0: forever
        monkeypatch.setenv("PIXY_JOB_RETENTION_DAYS", kept)
        assert Settings(_env_file=None).job_retention_days == float(kept)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_open_service_refused_off_loopback() -> None:
    make_settings(host="127.0.0.1").check_exposure()
    make_settings(host="0.0.0.0", api_keys="k").check_exposure()
    with pytest.raises(ConfigurationError, match="PIXY_API_KEYS"):
        make_settings(host="0.0.0.0").check_exposure()


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = PROJECT_ROOT / ".env.example"
    names = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    for field_name, field in Settings.model_fields.items():
        env_name = f"PIXY_{field_name.upper()}"
        assert env_name in names or (field.validation_alias is not None), env_name
    assert {"OPENAI_API_KEY", "OPENAI_BASE_URL"} <= names
    assert Settings(_env_file=example) == make_settings()


@pytest.mark.parametrize(
    "secret",
    [
        "c2VjcmV0LXdpdGhvdXQtdGhlLXByZWZpeC0zMi1ieXRlcw==",  # no whsec_
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"too short").decode(),
        "whsec_" + base64.b64encode(b"x" * 65).decode(),
    ],
)
def test_a_webhook_secret_must_be_a_standard_one(secret: str) -> None:
    with pytest.raises(ValidationError) as refused:
        make_settings(webhook_secret=secret)
    assert secret not in str(refused.value)  # the refusal never repeats the value


def test_a_webhook_secret_gives_its_key() -> None:
    key = b"k" * 32
    settings = make_settings(webhook_secret="whsec_" + base64.b64encode(key).decode())
    assert settings.webhook_secret is not None
    assert webhook_key(settings.webhook_secret) == key
    assert "whsec_" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "schedule"), [("5, 300,1800", (5.0, 300.0, 1800.0)), ("", ()), ("0.5", (0.5,))]
)
def test_the_webhook_retry_schedule_is_read_as_seconds(
    text: str, schedule: tuple[float, ...]
) -> None:
    assert make_settings(webhook_retry_schedule=text).webhook_retry_schedule == schedule


@pytest.mark.parametrize("text", ["5,soon", "-1", "700000"])
def test_a_bad_webhook_retry_schedule_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        make_settings(webhook_retry_schedule=text)
