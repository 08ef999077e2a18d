"""Locust users of the seed 004 baseline: upload a digit to ``/model/predict``, or ask for ``/``.

``locust -f bench/seed004/locustfile.py --host http://127.0.0.1:PORT Seed004Upload``

The uploads are servekit's own digits user's, the same bodies in the same mix (scikit-learn's
digits as the example makes its pictures, and 5% random noise), so that the sweep offers both
servers the same traffic; only the path and the answer's shape differ.

NOTE: the seed stores uploads by hash, so a digit it has seen is not written again; the noise
pictures are new files each time, as they are for servekit.
"""

from __future__ import annotations

from typing import Any, ClassVar

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from servekit.loadtest.locustfile import DigitsUpload

PREDICT = "/model/predict"


class Seed004Upload(DigitsUpload):
    """servekit's upload user, sent to the seed's route: no credentials, its answer checked."""

    model = None  # the seed has no /models/{name} to check at start
    path: ClassVar[str] = PREDICT

    def check(self, response: Any) -> None:
        """A failure unless the answer is a 200 with ``success`` and a ``prediction``."""
        with response as answer:
            if answer.status_code != 200:
                answer.failure(f"status {answer.status_code}: {(answer.text or '')[:200]}")
                return
            try:
                body = answer.json()
            except ValueError:
                answer.failure("the answer is not JSON")
                return
            if body.get("success") is not True or "prediction" not in body:
                answer.failure(f"not a prediction: {body}")


class Seed004Index(FastHttpUser):
    """``GET /`` as fast as it answers: the cost of the API without the queue."""

    wait_time = constant(0)

    @task
    def index(self) -> None:
        """The index page."""
        self.client.get("/")
