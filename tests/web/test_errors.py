"""Every error is one problem+json shape with the request id, and never a stack trace."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import make_settings
from tests.problems import assert_problem
from tests.web.conftest import Backend


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", f"/image/{uuid.uuid4()}", {}, 404, "image_not_found"),
        ("GET", f"/image/{uuid.uuid4()}/content", {}, 404, "image_not_found"),
        ("GET", "/image/not-a-guid", {}, 422, "invalid_request"),
        ("GET", "/image/not-a-guid/content", {}, 422, "invalid_request"),
        ("GET", "/nowhere", {}, 404, "not_found"),
        ("GET", "/image/abc/def/ghi", {}, 404, "not_found"),
        ("DELETE", "/image/", {}, 405, "method_not_allowed"),
        ("GET", "/image/", {"params": {"limit": 0}}, 422, "invalid_request"),
        ("GET", "/image/", {"params": {"limit": 501}}, 422, "invalid_request"),
        ("GET", "/image/", {"params": {"offset": -1}}, 422, "invalid_request"),
        ("GET", "/image/", {"params": {"limit": "many"}}, 422, "invalid_request"),
        (
            "POST",
            "/image/",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "invalid_request",
        ),
        ("POST", "/image/", {"json": {}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": ""}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": "   \n "}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": "nul\u0000byte"}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": "bell\u0007"}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": 42}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": {"prompt": "ok", "size": "huge"}}, 422, "invalid_request"),
        ("POST", "/image/", {"json": ["a list"]}, 422, "invalid_request"),
    ],
)
def test_bad_requests_answer_problems(
    backend: Backend,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    with backend.server.client() as client:
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert_problem(response, status, code)


def test_validation_problems_say_where_without_echoing_input(backend: Backend) -> None:
    with backend.server.client() as client:
        response = client.post("/image/", json={"prompt": "", "secret": "sk-live-123"})
    body = assert_problem(response, 422, "invalid_request")
    assert "sk-live-123" not in response.text
    locations = [error["loc"] for error in body["errors"]]
    assert ["body", "prompt"] in locations


def test_no_redirect_for_either_slash_form(backend: Backend) -> None:
    with backend.server.client() as client:
        for path in ("/image", "/image/"):
            assert client.get(path).status_code == 200
            assert client.post(path, json={"prompt": "no redirect"}).status_code == 200


def test_unexpected_exception_is_a_bare_500_problem() -> None:
    app = create_app(make_settings())

    @app.get("/explode")
    async def explode() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/explode")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["instance"] == "/explode"
