"""``GET /monitor/snapshot`` in one process: open like /metrics, documented, and feedback accuracy as sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from servekit.storage.db import Database
from servekit.storage.feedback import add_feedback
from servekit.storage.tables import PredictionRecord
from tests.api.test_auth import SECRET, bearer, register, token_for
from tests.conftest import IRIS_SETOSA, AppFactory

VERSICOLOR = {"sepal_length": 6.0, "sepal_width": 2.7, "petal_length": 4.2, "petal_width": 1.3}


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    app = make_app(database_url=database_url, allow_anonymous=False, auth={"jwt_secret": SECRET})
    with TestClient(app) as c:
        yield c


def iris(client: TestClient) -> dict[str, Any]:
    response = client.get("/monitor/snapshot")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = next(m for m in response.json()["models"] if m["name"] == "iris")
    return found


def test_the_snapshot_is_open_and_documented(client: TestClient) -> None:
    # No credentials, like /metrics: the monitor page polls it as it is.
    assert client.get("/metrics").status_code == 200
    body = client.get("/monitor/snapshot").json()
    assert set(body) == {"time", "requests", "latency", "models", "processes", "workers"}
    assert {m["name"] for m in body["models"]} == {"iris", "taxifare"}
    assert body["workers"] is None
    operation = client.get("/openapi.json").json()["paths"]["/monitor/snapshot"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Snapshot"}


def test_its_own_polls_are_not_counted_as_requests(client: TestClient) -> None:
    before = client.get("/monitor/snapshot").json()["requests"]
    client.get("/monitor/snapshot")
    client.get("/metrics")
    client.get("/healthz")
    after = client.get("/monitor/snapshot").json()["requests"]
    assert after["total"] - before["total"] == 1


def test_feedback_moves_the_counts_and_the_accuracy(client: TestClient, database_url: str) -> None:
    register(client, "ada@example.com")
    auth = bearer(token_for(client, "ada@example.com"))
    rows = {"instances": [IRIS_SETOSA, VERSICOLOR]}
    before = iris(client)
    answer = client.post("/models/iris/predict", json=rows, headers=auth).json()
    setosa_id, versicolor_id = (p["id"] for p in answer["predictions"])
    assert iris(client)["predictions"] == before["predictions"] + 2

    right = {"prediction_id": setosa_id, "label": "setosa"}
    assert client.post("/feedback", json=right, headers=auth).status_code == 201
    assert iris(client)["feedback"]["accuracy"] == 1.0
    wrong = {"prediction_id": versicolor_id, "label": "virginica"}
    assert client.post("/feedback", json=wrong, headers=auth).status_code == 201

    feedback = iris(client)["feedback"]
    assert feedback["right"] - before["feedback"]["right"] == 1
    assert feedback["wrong"] - before["feedback"]["wrong"] == 1
    assert feedback["accuracy"] == 0.5

    # Feedback another server took (written to the shared database here): the snapshot reads the
    # accuracy from the database, not from what this process last computed.
    async def elsewhere() -> None:
        async with Database(database_url) as database, database.session() as session:
            prediction = await session.get(PredictionRecord, versicolor_id)
            assert prediction is not None
            assert prediction.user_id is not None
            await add_feedback(
                session, prediction=prediction, user_id=prediction.user_id, label="versicolor",
                score=None, comment="",
            )  # fmt: skip

    asyncio.run(elsewhere())
    assert iris(client)["feedback"]["accuracy"] == 1.0
