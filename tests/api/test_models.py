"""Status, health, the model list and each model's metadata."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import TAXI_RIDE, AppFactory


def test_status_names_service_version_models_and_uptime(client: TestClient) -> None:
    body = client.get("/").json()
    assert body["service"] == "servekit"
    assert body["version"]
    assert body["ready"] is True
    assert body["uptime_seconds"] >= 0
    assert {m["name"] for m in body["models"]} == {"iris", "taxifare"}


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert sorted(ready.json()["models"]) == ["iris:1", "taxifare:1"]


def test_readiness_is_503_until_models_are_loaded(make_app: AppFactory) -> None:
    # Without entering the client's context the lifespan never runs, so nothing is loaded.
    client = TestClient(make_app())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert sorted(response.json()["loading"]) == ["iris:1", "taxifare:1"]
    assert client.get("/healthz").status_code == 200


def test_model_list(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models["iris"] == {
        "name": "iris",
        "latest": "1",
        "versions": ["1"],
        "task": "classification",
        "runtime": "sklearn",
        "description": models["iris"]["description"],
    }
    assert models["taxifare"]["task"] == "regression"


def test_model_detail_has_its_input_schema_and_example(client: TestClient) -> None:
    body = client.get("/models/taxifare").json()
    features = {f["name"]: f for f in body["inputs"]}
    assert list(features) == list(TAXI_RIDE)  # the training columns, in their order
    assert features["passenger_count"] == {
        "name": "passenger_count",
        "type": "int",
        "description": "Passengers in the cab",
        "example": 1,
        "minimum": 1.0,
        "maximum": 8.0,
    }
    assert features["pickup_datetime"]["type"] == "datetime"
    assert body["outputs"] == {"name": "fare_amount", "unit": "USD", "description": ""}
    assert body["out_of_distribution"]["policy"] == "warn"
    assert body["training_rows"] == 20000
    assert body["endpoints"]["predict"] == "/models/taxifare/predict"
    # The example it shows is one the server accepts.
    assert client.post("/models/taxifare/predict", json=body["example"]).status_code == 200


def test_iris_detail_lists_labels(client: TestClient) -> None:
    body = client.get("/models/iris/versions/1").json()
    assert body["outputs"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert body["loaded"] is True
