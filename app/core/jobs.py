"""Generation jobs: what a job records, and what a client sees of it.

A job is written before any money is spent on the provider and is run by whichever replica
claims it (docs/ARCHITECTURE.md, "Generation as durable jobs").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.core.models import ImageDetail


class JobStatus(StrEnum):
    """Where a job is: ``queued`` -> ``running`` -> ``succeeded`` or ``failed``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """Whether the job will never change again."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobProblem(BaseModel):
    """Why a job failed: the problem its request would have been answered with."""

    model_config = ConfigDict(frozen=True)

    code: str
    status: int
    title: str
    detail: str
    retry_after: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class JobRecord(BaseModel):
    """A row of the ``jobs`` table."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    owner: str
    prompt: str
    options: dict[str, Any] = Field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    not_before: datetime
    error: JobProblem | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    webhook_url: str | None = None
    created_at: datetime
    updated_at: datetime
    revision: int = Field(default=1, description="Bumped on every visible change: event ids.")
    status_revision: int = Field(default=1, description="The revision of the last status change.")


@dataclass(frozen=True)
class JobPartial:
    """A partial render of a running job, stored as an object, told by the event ``revision``."""

    index: int
    revision: int
    key: str
    media_type: str


class JobUsage(BaseModel):
    """What one job's image cost: the provider's token counts and the estimated price."""

    model_config = ConfigDict(frozen=True)

    text_input_tokens: int
    image_input_tokens: int
    output_tokens: int
    cost_usd: float


class Job(BaseModel):
    """A job as its owner sees it (``GET /jobs/{id}``)."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(description="The job's id; the image gets the same guid on success.")
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = Field(description="How many times a runner has started the job.")
    image: ImageDetail | None = Field(
        default=None, description="The image, once the job has succeeded."
    )
    error: dict[str, Any] | None = Field(
        default=None, description="The problem (RFC 9457), once the job has failed."
    )
    usage: JobUsage | None = Field(
        default=None, description="What the provider counted and what it cost, once succeeded."
    )
