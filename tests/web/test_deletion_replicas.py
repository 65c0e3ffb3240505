"""Deleting on one of two replicas (one MySQL, one bucket, CloudFront in front): both forget the
image within the staleness bound, no listing shows it, racing deletes get one 204, and the CDN
is asked once; retention deletes old images the same way."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.data.test_deletion_repository import at_once
from tests.fixtures import (
    S3_CREDENTIALS,
    LiveServer,
    create_scratch_database,
    drop_scratch_database,
    start_live_server,
    wait_until,
)
from tests.web.deletion_helpers import count_rows, query

OWNER = {"Authorization": "Bearer owner-key"}
ASYNC = {"Prefer": "respond-async"}


def cloudfront(endpoint: str) -> Any:
    return boto3.client(
        "cloudfront",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def new_distribution(endpoint: str) -> str:
    """A CloudFront distribution on moto's server; its id."""
    origin = {
        "Id": "pixy",
        "DomainName": "pixy.example.com",
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
        },
    }
    config = {
        "CallerReference": uuid.uuid4().hex,
        "Comment": "PixyProxy tests",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "pixy",
            "ViewerProtocolPolicy": "allow-all",
            "MinTTL": 0,
            "ForwardedValues": {"QueryString": True, "Cookies": {"Forward": "none"}},
            "TrustedSigners": {"Enabled": False, "Quantity": 0},
        },
    }
    made = cloudfront(endpoint).create_distribution(DistributionConfig=config)
    return str(made["Distribution"]["Id"])


def invalidated_paths(endpoint: str, distribution: str) -> list[list[str]]:
    client = cloudfront(endpoint)
    listed = client.list_invalidations(DistributionId=distribution)["InvalidationList"]
    paths = []
    for item in listed.get("Items", []):
        found = client.get_invalidation(DistributionId=distribution, Id=item["Id"])
        paths.append(found["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
    return paths


@pytest.fixture
def shared(tmp_path: Path, mysql_available: None, moto_endpoint: str) -> Iterator[dict[str, str]]:
    """What two replicas share: a MySQL database, a bucket, a CloudFront distribution."""
    database_url = create_scratch_database()
    yield {
        "PIXY_DATABASE_URL": database_url,
        "PIXY_STORAGE_URL": f"s3://pixy-{uuid.uuid4().hex[:12]}/images",
        "PIXY_S3_ENDPOINT_URL": moto_endpoint,
        "PIXY_S3_CREATE_BUCKET": "true",
        "PIXY_API_KEYS": "owner-key",
        "PIXY_CACHE_STALENESS_SECONDS": "1",
        "AWS_ENDPOINT_URL_CLOUDFRONT": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        **S3_CREDENTIALS,
    }
    drop_scratch_database(database_url)


def two_replicas(tmp_path: Path, settings: dict[str, str]) -> tuple[LiveServer, LiveServer]:
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(start_live_server(tmp_path / name, **settings))
    return servers[0], servers[1]


def metric(server: LiveServer, name: str, **labels: str) -> float:
    with server.client() as client:
        text = client.get("/metrics").text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.compile(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", re.MULTILINE)
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def test_both_replicas_forget_a_deleted_image_and_the_cdn_is_asked_once(
    tmp_path: Path, shared: dict[str, str], moto_endpoint: str
) -> None:
    distribution = new_distribution(moto_endpoint)
    first, second = two_replicas(
        tmp_path, {**shared, "PIXY_CLOUDFRONT_DISTRIBUTION_ID": distribution}
    )
    try:
        with first.client() as a, second.client() as b:
            guid = a.post("/image", json={"prompt": "seen twice"}, headers=OWNER).json()["guid"]
            for client in (a, b):
                assert client.get(f"/image/{guid}").status_code == 200
                assert client.get(f"/image/{guid}/content").status_code == 200
                assert client.get(f"/image/{guid}/content?width=64").status_code == 200
            assert a.delete(f"/image/{guid}", headers=OWNER).status_code == 204
            # Listings read guids from the database: no replica lists it once the DELETE returned.
            for client in (a, b):
                assert guid not in [image["guid"] for image in client.get("/image/").json()]

            def forgotten_by_b() -> bool:
                return all(
                    b.get(path).status_code == 404
                    for path in (f"/image/{guid}", f"/image/{guid}/content")
                )

            wait_until(forgotten_by_b, seconds=30)
            assert a.get(f"/image/{guid}/content?width=64").status_code == 404
        wait_until(lambda: bool(invalidated_paths(moto_endpoint, distribution)), seconds=30)
        assert invalidated_paths(moto_endpoint, distribution) == [
            [f"/image/{guid}", f"/image/{guid}/content*"]
        ]
        assert metric(first, "pixyproxy_cdn_invalidations_total", outcome="ok") == 1
        assert metric(first, "pixyproxy_images_deleted_total", reason="request") == 1
    finally:
        first.stop()
        second.stop()


def delete_on(server: LiveServer, guid: str) -> int:
    with httpx.Client(base_url=server.base_url) as client:
        return client.delete(f"/image/{guid}", headers=OWNER).status_code


def test_racing_deletes_on_two_replicas_get_exactly_one_204(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    first, second = two_replicas(tmp_path, shared)
    try:
        with first.client() as a:
            guids = [
                a.post("/image", json={"prompt": f"raced {n}"}, headers=OWNER).json()["guid"]
                for n in range(5)
            ]
        for guid in guids:
            statuses = at_once([partial(delete_on, server, guid) for server in (first, second) * 2])
            assert sorted(statuses) == [204, 404, 404, 404]
    finally:
        first.stop()
        second.stop()


def test_a_failing_invalidation_never_blocks_the_delete_and_is_kept_for_later(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    (tmp_path / "one").mkdir()
    server = start_live_server(
        tmp_path / "one", **shared, PIXY_CLOUDFRONT_DISTRIBUTION_ID="NOSUCHDISTRIBUTION"
    )
    try:
        with server.client() as client:
            guid = client.post("/image", json={"prompt": "cdn down"}, headers=OWNER).json()["guid"]
            assert client.delete(f"/image/{guid}", headers=OWNER).status_code == 204
            assert client.get(f"/image/{guid}").status_code == 404
        wait_until(
            lambda: metric(server, "pixyproxy_cdn_invalidations_total", outcome="failed") > 0
        )
        database = shared["PIXY_DATABASE_URL"]
        assert count_rows(database, "deleted_objects", "target", guid) == 1  # retried later
        assert any("cdn_invalidation_failed" in line for line in server.log_lines())
    finally:
        server.stop()


def test_retention_deletes_old_images_and_forgets_old_jobs_on_one_replica_at_a_time(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    retention = {
        **shared,
        "PIXY_RETENTION_DAYS": "1",
        "PIXY_RETENTION_INTERVAL_SECONDS": "1",
    }
    first, second = two_replicas(tmp_path, retention)
    database = shared["PIXY_DATABASE_URL"]
    try:
        with first.client() as a:
            made = [
                a.post("/image", json={"prompt": f"kept {n}"}, headers=OWNER).json()["guid"]
                for n in range(3)
            ]
            old, kept = made[:2], made[2]
            for guid in old:
                query(
                    database,
                    "UPDATE images SET created_at = '2020-01-01 00:00:00' WHERE guid = ?",
                    guid,
                )
            # A job that finished long ago (PIXY_JOB_RETENTION_DAYS is 30): its image is new.
            accepted = a.post("/image", json={"prompt": "a job"}, headers=OWNER | ASYNC)
            job = accepted.headers["location"]
            wait_until(lambda: a.get(job, headers=OWNER).json()["status"] == "succeeded")
            made_by_job = a.get(job, headers=OWNER).json()["image"]["guid"]
            query(
                database,
                "UPDATE jobs SET updated_at = '2020-01-01 00:00:00' WHERE id = ?",
                job.rsplit("/", 1)[1],
            )

            def swept() -> bool:
                gone = [a.get(f"/image/{guid}").status_code for guid in old]
                return gone == [404, 404] and a.get(job, headers=OWNER).status_code == 404

            wait_until(swept, seconds=30)
            assert a.get(f"/image/{kept}").status_code == 200
            assert a.get(f"/image/{made_by_job}").status_code == 200
        deleted = sum(
            metric(server, "pixyproxy_images_deleted_total", reason="retention")
            for server in (first, second)
        )
        assert deleted == 2
        logs = first.log_lines() + second.log_lines()
        assert any("retention_sweep" in line and "deleted=" in line for line in logs)
        assert any("retention_sweep" in line and "jobs_expired=1" in line for line in logs)
    finally:
        first.stop()
        second.stop()
