"""What the API and the workers say to each other through Redis: a job and its result, as JSON."""

from __future__ import annotations

import json
from typing import NotRequired, TypedDict

DEFAULT_QUEUE = "service_queue"
"""The Redis list jobs go through: the seed's ``REDIS_QUEUE``."""
RESULT_TTL_S = 60
"""Seconds a result waits under its job id for the API to take it.

NOTE: the seed sets results without an expiry, so the answer to a request that gave up stayed in
Redis for ever; here it goes after a minute (twice the API's deadline).
"""


class Job(TypedDict):
    """One image to classify, pushed by the API (the seed's job dictionary)."""

    id: str
    """A uuid4; the worker sets the result under this key."""
    image_name: str
    """The stored file's name in the uploads folder: ``<sha256 hex><extension>``."""


class Result(TypedDict):
    """The worker's answer: the label and its probability, or why the image could not be read."""

    prediction: str | None
    score: float | None
    error: NotRequired[str]
    """Only when the file could not be read as an image (the seed's worker crashed instead)."""


def encode(message: Job | Result) -> str:
    """Compact JSON, as it travels through Redis."""
    return json.dumps(message, separators=(",", ":"))


def decode_job(data: bytes | str) -> Job:
    """A job popped from the list."""
    job: Job = json.loads(data)
    return job


def decode_result(data: bytes | str) -> Result:
    """A result read back under its job id."""
    result: Result = json.loads(data)
    return result
