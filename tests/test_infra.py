"""The container files, checked as far as a machine without a Docker engine allows."""

from __future__ import annotations

import re
from typing import Any

import yaml

from app.core.settings import Settings
from tests.fixtures import PROJECT_ROOT

KNOWN_NAMES = {f"PIXY_{name.upper()}" for name in Settings.model_fields} | {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "infra/docker-compose.yml").read_text())
    return loaded


def test_compose_sets_only_real_settings_and_pins_images() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if "image" in service:
            assert re.search(r":[\w.-]+$", service["image"]), name
            assert not service["image"].endswith(":latest"), name
    environment = services["pixyproxy"]["environment"]
    assert set(environment) <= KNOWN_NAMES
    assert environment["PIXY_STORAGE_URL"].startswith("s3://")
    assert environment["PIXY_DATABASE_URL"].startswith("mysql://")


def test_compose_waits_for_healthy_dependencies() -> None:
    services = compose()["services"]
    depends = services["pixyproxy"]["depends_on"]
    assert depends["mysql"]["condition"] == "service_healthy"
    assert depends["minio-setup"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["mysql"] and "healthcheck" in services["minio"]
    bucket = services["pixyproxy"]["environment"]["PIXY_STORAGE_URL"].split("/")[2]
    assert f"local/{bucket}" in " ".join(services["minio-setup"]["command"])


def test_dockerfile_runs_the_service_as_non_root_with_real_settings() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2  # build stage and slim runtime stage
    assert re.search(r"^USER pixy$", dockerfile, re.MULTILINE)
    assert 'CMD ["python", "-m", "app"]' in dockerfile
    assert "EXPOSE 8000" in dockerfile
    assert "requirements.lock" in dockerfile
    for name in re.findall(r"\b(PIXY_[A-Z_]+)=", dockerfile):
        assert name in KNOWN_NAMES, name
