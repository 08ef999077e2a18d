"""``/monitor/snapshot`` of ``servekit serve --workers 2``: counts summed over both processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import IRIS_SETOSA
from tests.e2e.conftest import ServerFactory
from tests.e2e.server import Server
from tests.e2e.snapshots import CountedClient, expected_requests, model, requests_delta

VERSICOLOR = {"sepal_length": 6.0, "sepal_width": 2.7, "petal_length": 4.2, "petal_width": 1.3}
SECRET = "a-test-secret-long-enough-that-an-hs512-forgery-uses-the-same-key!!"


def wait_until_all_started(server: Server, processes: int) -> None:
    # /readyz answers as soon as one process is up.
    deadline = time.monotonic() + 60
    while (
        len([r for r in server.records() if r.get("message") == "Application startup complete."])
        < processes
    ):
        assert time.monotonic() < deadline, "not every process started"
        time.sleep(0.1)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_processes_sum_predictions_requests_and_feedback(
    spawn_server: ServerFactory, tmp_path: Path, database_url: str
) -> None:
    server = spawn_server(
        env={
            "SERVEKIT_WORKERS": "2",
            "SERVEKIT_METRICS_DIR": str(tmp_path / "metrics"),
            "SERVEKIT_DATABASE_URL": database_url,
            "SERVEKIT_AUTH__JWT_SECRET": SECRET,
        }
    )
    wait_until_all_started(server, 2)
    client = CountedClient(server.url)
    try:
        before = client.snapshot()
        assert before["workers"] is None
        assert before["processes"]["count"] == 2
        assert {m["name"] for m in before["models"]} == {"iris", "taxifare"}

        auth = client.sign_up("ada@example.com")
        for _ in range(30):
            assert (
                client.request("POST", "/models/iris/predict", json=IRIS_SETOSA).status_code == 200
            )
        rows = {"instances": [IRIS_SETOSA, VERSICOLOR]}
        answer = client.request("POST", "/models/iris/predict", json=rows, headers=auth).json()
        setosa, versicolor = (p["id"] for p in answer["predictions"])
        assert client.request("POST", "/models/iris/predict", json={}).status_code == 422
        client.feedback({"prediction_id": setosa, "label": "setosa"}, auth)
        client.feedback({"prediction_id": versicolor, "label": "virginica"}, auth)

        after = client.snapshot()
    finally:
        client.close()

    assert requests_delta(before, after) == expected_requests(client.statuses)
    iris, iris_before = model(after, "iris"), model(before, "iris")
    assert iris["predictions"] - iris_before["predictions"] == 32
    # Every model call, whichever process made it (batching may have joined some rows).
    assert iris["batch"]["sum"] - iris_before["batch"]["sum"] == 32
    assert iris["inference"]["count"] == iris["batch"]["count"]
    assert iris["feedback"]["right"] == 1
    assert iris["feedback"]["wrong"] == 1
    assert iris["feedback"]["accuracy"] == 0.5
    # The prediction routes' latency: each prediction request, the refused one included.
    assert after["latency"]["count"] - before["latency"]["count"] == 32
    assert after["processes"]["count"] == 2
    assert after["processes"]["cpu_seconds"] > 0
    assert after["processes"]["memory_bytes"] > 0
    assert model(after, "taxifare")["predictions"] == 0
