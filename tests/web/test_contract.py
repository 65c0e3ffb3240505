"""The HTTP contract (README, "The API"), over HTTP against a live server on each backend."""

from __future__ import annotations

import pytest

from app.core.models import PROMPT_MAX_LENGTH
from tests.data.test_image_repository import PROMPTS
from tests.web.conftest import Backend

# The contract's fields, then what the detail grew additively (what the image is, its maker).
DETAIL_FIELDS = {"guid", "prompt", "filename", "created_at", "updated_at"} | {
    *("media_type", "width", "height", "bytes", "model", "quality")
}


def test_post_on_both_slash_forms_returns_a_detail(backend: Backend) -> None:
    with backend.server.client() as client:
        for path in ("/image", "/image/"):
            response = client.post(path, json={"prompt": "a rubber duck on a sink"})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            detail = response.json()
            assert set(detail) == DETAIL_FIELDS
            assert detail["prompt"] == "a rubber duck on a sink"
            assert detail["filename"].endswith(f"{detail['guid']}.png")


def test_detail_and_list_equal_what_post_returned(backend: Backend) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": "equality check"}).json()
        assert client.get(f"/image/{created['guid']}").json() == created
        for path in ("/image", "/image/"):
            listed = client.get(path, params={"limit": 500})
            assert listed.status_code == 200
            body = listed.json()
            assert isinstance(body, list)  # a bare array, no envelope
            assert created in body
            assert "id" not in body[0]


def test_list_is_newest_first_and_paged(backend: Backend) -> None:
    with backend.server.client() as client:
        made = [client.post("/image/", json={"prompt": f"order {n}"}).json() for n in range(3)]
        page = client.get("/image/", params={"limit": 2}).json()
        assert page == [made[2], made[1]]
        assert client.get("/image/", params={"limit": 1, "offset": 2}).json() == [made[0]]


def test_row_in_the_images_table_holds_what_the_json_says(backend: Backend) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": "🦆 in the table"}).json()
    row = backend.table_row(created["guid"])
    assert row == {
        "guid": created["guid"],
        "filename": created["filename"],
        "prompt": "🦆 in the table",
    }


def test_content_is_the_stored_png(backend: Backend) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": "a rubber duck on a sink"}).json()
        response = client.get(f"/image/{created['guid']}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(response.content) > 5_000
    assert response.content == backend.stored_object(created["filename"])


def test_same_prompt_gives_the_same_picture(backend: Backend) -> None:
    with backend.server.client() as client:
        first = client.post("/image/", json={"prompt": "same picture"}).json()
        second = client.post("/image/", json={"prompt": "same picture"}).json()
        assert first["guid"] != second["guid"]
        assert (
            client.get(f"/image/{first['guid']}/content").content
            == client.get(f"/image/{second['guid']}/content").content
        )


@pytest.mark.parametrize("prompt", PROMPTS, ids=range(len(PROMPTS)))
def test_prompts_of_every_kind_survive_the_round_trip(backend: Backend, prompt: str) -> None:
    with backend.server.client() as client:
        created = client.post("/image/", json={"prompt": prompt})
        assert created.status_code == 200, created.text
        assert created.json()["prompt"] == prompt
        assert client.get(f"/image/{created.json()['guid']}").json()["prompt"] == prompt
    row = backend.table_row(created.json()["guid"])
    assert row is not None and row["prompt"] == prompt


def test_prompt_past_the_limit_is_422(backend: Backend) -> None:
    with backend.server.client() as client:
        response = client.post("/image/", json={"prompt": "x" * (PROMPT_MAX_LENGTH + 1)})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
