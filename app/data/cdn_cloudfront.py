"""CloudFront invalidations through boto3 (which honours ``AWS_ENDPOINT_URL_CLOUDFRONT``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.core.exceptions import CdnUnavailable


class CloudFrontInvalidator:
    """The ``CdnInvalidator`` of one CloudFront distribution."""

    def __init__(self, distribution_id: str, client: Any | None = None) -> None:
        self.distribution_id = distribution_id
        self._client = client or boto3.client(
            "cloudfront",
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=15
            ),
        )

    def invalidate(self, paths: Sequence[str], *, reference: str) -> None:
        """One invalidation of ``paths``; CloudFront answers a repeated ``reference`` with the
        invalidation it already made, so a retry after a lost answer asks nothing twice."""
        batch = {
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": reference,
        }
        try:
            self._client.create_invalidation(
                DistributionId=self.distribution_id, InvalidationBatch=batch
            )
        except (BotoCoreError, ClientError) as exc:
            raise CdnUnavailable(f"CloudFront refused the invalidation: {exc}") from exc
