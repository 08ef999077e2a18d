"""Locust users only the sweep runs: the latency-bound model it builds is not an example."""

from __future__ import annotations

from locust import task

from servekit.loadtest.latency import FEATURES, NAME
from servekit.loadtest.locustfile import ServekitUser


class FixedLatencyPredict(ServekitUser):
    """One row a request to the latency-bound model."""

    model = NAME

    @task
    def predict_one(self) -> None:
        row = {name: round(self.rng.gauss(0, 1), 3) for name in FEATURES}
        self.predict(row, rows=1, name=f"{NAME}: one row")
