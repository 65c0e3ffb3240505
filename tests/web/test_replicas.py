"""Two server processes on one MySQL and one bucket behave as one service."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.fakes.openai_server import FakeOpenAI
from tests.fixtures import (
    S3_CREDENTIALS,
    create_scratch_database,
    drop_scratch_database,
    openai_settings,
    start_live_server,
)


def test_two_replicas_share_images_and_idempotency_keys(
    tmp_path: Path, mysql_available: None, moto_endpoint: str, fake_openai: FakeOpenAI
) -> None:
    database_url = create_scratch_database()
    settings = {
        "PIXY_DATABASE_URL": database_url,
        "PIXY_STORAGE_URL": f"s3://pixy-{uuid.uuid4().hex[:12]}/shared",
        "PIXY_S3_ENDPOINT_URL": moto_endpoint,
        "PIXY_S3_CREATE_BUCKET": "true",
        **openai_settings(fake_openai.base_url),
        "PIXY_API_KEYS": "replica-key",
        **S3_CREDENTIALS,
    }
    one, two = (start_live_server(tmp_path, **settings) for _ in range(2))
    headers = {"Authorization": "Bearer replica-key", "Idempotency-Key": "replicated-1"}
    try:
        with one.client() as first, two.client() as second:
            created = first.post("/image/", json={"prompt": "seen by both"}, headers=headers)
            replayed = second.post("/image/", json={"prompt": "seen by both"}, headers=headers)
            guid = created.json()["guid"]
            listed = second.get("/image/").json()
            detail = second.get(f"/image/{guid}").json()
            served = second.get(f"/image/{guid}/content")
            original = first.get(f"/image/{guid}/content")
    finally:
        one.stop()
        two.stop()
        drop_scratch_database(database_url)
    assert created.status_code == 200
    assert replayed.status_code == 200 and replayed.json() == created.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert len(fake_openai.requests) == 1
    assert listed == [created.json()] and detail == created.json()
    assert served.status_code == 200 and served.content == original.content
    assert served.headers["etag"] == original.headers["etag"]
