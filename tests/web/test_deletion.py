"""DELETE /image/{guid} on a live server: who may delete, what goes, and bad input; on SQLite
with a folder and on MySQL with moto's S3."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures import (
    LiveServer,
    s3_client,
    start_live_server,
)
from tests.web.conftest import serve_backend
from tests.web.deletion_helpers import Place, count_rows, objects_of, set_owner

OWNER = {"Authorization": "Bearer owner-key"}
OTHER = {"Authorization": "Bearer other-key"}
OPERATOR = {"Authorization": "Bearer operator-key"}
KEYS = {"PIXY_API_KEYS": "owner-key,other-key", "PIXY_ADMIN_KEYS": "operator-key"}


@pytest.fixture(scope="module", params=["sqlite+folder", "mysql+s3"])
def place(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Place]:
    workdir = tmp_path_factory.mktemp("deletion")
    mysql_s3 = request.param == "mysql+s3"
    with serve_backend(request, workdir, request.param, mysql_s3=mysql_s3, **KEYS) as backend:
        if backend.moto_endpoint is None:
            yield Place(backend.server, backend.database_url, workdir / "images")
        else:
            s3 = s3_client(backend.moto_endpoint)
            yield Place(backend.server, backend.database_url, None, s3, backend.bucket)


def make_image(server: LiveServer, prompt: str) -> dict[str, Any]:
    with server.client() as client:
        response = client.post("/image", json={"prompt": prompt}, headers=OWNER)
    assert response.status_code == 200, response.text
    image: dict[str, Any] = response.json()
    return image


def served_everything(client: httpx.Client, guid: str) -> None:
    """Read the detail, the content and a variant, so that all of them are cached."""
    assert client.get(f"/image/{guid}").status_code == 200
    assert client.get(f"/image/{guid}/content").status_code == 200
    assert client.get(f"/image/{guid}/content", params={"width": 64}).status_code == 200


def test_the_owner_deletes_the_image_its_variants_and_partials(place: Place) -> None:
    image = make_image(place.server, "a fox to take down")
    guid = image["guid"]
    with place.server.client() as client:
        served_everything(client, guid)
        assert count_rows(place.database_url, "renditions", "image_guid", guid) == 1
        before = objects_of(place, guid)
        assert len(before) == 2  # the original and its variant
        response = client.delete(f"/image/{guid}", headers=OWNER)
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert client.get(f"/image/{guid}").status_code == 404
        assert client.get(f"/image/{guid}/content").status_code == 404
        assert client.get(f"/image/{guid}/content", params={"width": 64}).status_code == 404
        assert guid not in [found["guid"] for found in client.get("/image/").json()]
        again = client.delete(f"/image/{guid}", headers=OWNER)
    assert again.status_code == 404
    assert again.json()["code"] == "image_not_found"
    assert objects_of(place, guid) == []
    for table, column in (("images", "guid"), ("renditions", "image_guid")):
        assert count_rows(place.database_url, table, column, guid) == 0
    assert count_rows(place.database_url, "job_partials", "job_id", guid) == 0
    assert count_rows(place.database_url, "deleted_objects", "kind", "object") == 0


def test_a_deleted_images_job_and_cost_stay_readable(place: Place) -> None:
    """The job of a deleted image still answers (succeeded, no image); its event stream ends
    cleanly; what it cost stays in /usage."""
    with place.server.client() as client:
        before = client.get("/usage", headers=OWNER).json()["total"]["images"]
        guid = make_image(place.server, "made, then taken down")["guid"]
        assert client.delete(f"/image/{guid}", headers=OWNER).status_code == 204
        job = client.get(f"/jobs/{guid}", headers=OWNER)
        events = client.get(f"/jobs/{guid}/events", headers=OWNER)
        final_id = re.findall(r"^id: (\d+)$", events.text, re.MULTILINE)[-1]
        again = client.get(f"/jobs/{guid}/events", headers={**OWNER, "Last-Event-ID": final_id})
        after = client.get("/usage", headers=OWNER).json()["total"]["images"]
    assert job.status_code == 200, job.text
    assert job.json()["status"] == "succeeded"
    assert job.json()["image"] is None and job.json()["usage"] is not None
    assert events.status_code == 200
    status = json.loads(re.findall(r"^data: (.*)$", events.text, re.MULTILINE)[-1])
    assert (status["status"], status["image"]) == ("succeeded", None)
    assert again.status_code == 204  # an EventSource stops reconnecting
    assert after == before + 1
    assert not any("Traceback" in line for line in place.server.log_lines())


def test_another_key_gets_404_and_the_image_stays(place: Place) -> None:
    guid = make_image(place.server, "not yours")["guid"]
    with place.server.client() as client:
        refused = client.delete(f"/image/{guid}", headers=OTHER)
        assert refused.status_code == 404
        assert refused.json()["code"] == "image_not_found"
        assert client.get(f"/image/{guid}").status_code == 200
        assert client.delete(f"/image/{guid}").status_code == 401
        assert client.get(f"/image/{guid}").status_code == 200
        assert client.delete(f"/image/{guid}", headers=OPERATOR).status_code == 204
        assert client.get(f"/image/{guid}").status_code == 404


def test_an_image_of_no_owner_is_deleted_only_by_an_operator(place: Place) -> None:
    guid = make_image(place.server, "made before owners")["guid"]
    set_owner(place.database_url, guid, None)
    with place.server.client() as client:
        assert client.delete(f"/image/{guid}", headers=OWNER).status_code == 404
        assert client.delete(f"/image/{guid}", headers=OTHER).status_code == 404
        assert client.delete(f"/image/{guid}", headers=OPERATOR).status_code == 204
        assert client.delete(f"/image/{guid}", headers=OPERATOR).status_code == 404


def test_bad_input_gets_a_problem_and_deletes_nothing(place: Place) -> None:
    guid = make_image(place.server, "kept through bad requests")["guid"]
    with place.server.client() as client:
        malformed = client.delete("/image/not-a-guid", headers=OWNER)
        assert malformed.status_code == 422
        assert malformed.headers["content-type"] == "application/problem+json"
        with_body = client.request("DELETE", f"/image/{guid}", headers=OWNER, json={"really": True})
        assert with_body.status_code == 422
        assert "no body" in with_body.json()["detail"]
        unknown = client.delete(f"/image/{uuid.uuid4()}", headers=OPERATOR)
        assert unknown.status_code == 404
        assert client.get(f"/image/{guid}").status_code == 200


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path)
    yield server
    server.stop()


def test_without_keys_configured_the_local_caller_deletes_its_images(
    open_server: LiveServer,
) -> None:
    with open_server.client() as client:
        guid = client.post("/image", json={"prompt": "open"}).json()["guid"]
        assert client.delete(f"/image/{guid}").status_code == 204
        assert client.get(f"/image/{guid}").status_code == 404
