"""A spawned ``servekit serve`` over the examples answers readiness, status and predictions."""

from __future__ import annotations

import httpx

from tests.conftest import IRIS_SETOSA

TAXI_QUERY = (
    "/models/taxifare/predict?pickup_datetime=2013-07-06%2017:18:00%20UTC"
    "&pickup_longitude=-73.950655&pickup_latitude=40.783282"
    "&dropoff_longitude=-73.984365&dropoff_latitude=40.769802&passenger_count=1"
)


def test_readyz_is_200_once_models_are_loaded(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "models": ["iris:1", "taxifare:1"],
        "database": "ok",
    }


def test_status_lists_the_examples_with_uptime(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert [m["name"] for m in body["models"]] == ["iris", "taxifare"]
    assert isinstance(body["uptime_seconds"], float)
    assert body["uptime_seconds"] > 0


def test_setosa_row_is_setosa_without_warnings(http: httpx.Client) -> None:
    response = http.post("/models/iris/predict", json=IRIS_SETOSA)
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"]) == ("iris", "1")
    [row] = body["predictions"]
    assert row["prediction"] == "setosa"
    assert row["warnings"] == []


def test_out_of_range_value_warns_naming_the_feature(http: httpx.Client) -> None:
    response = http.post("/models/iris/predict", json={**IRIS_SETOSA, "sepal_length": 50})
    assert response.status_code == 200
    [row] = response.json()["predictions"]
    assert row["warnings"], "a sepal length of 50 cm should be flagged"
    assert "sepal_length" in {w["feature"] for w in row["warnings"]}
    [range_warning] = [w for w in row["warnings"] if w["kind"] == "out_of_range"]
    assert range_warning["feature"] == "sepal_length"
    assert "sepal_length" in range_warning["message"]


def test_batch_of_100_rows_gives_100_predictions(http: httpx.Client) -> None:
    rows = [{**IRIS_SETOSA, "sepal_length": 4.5 + i / 100} for i in range(100)]
    response = http.post("/models/iris/predict", json={"instances": rows})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 100
    assert len({p["id"] for p in predictions}) == 100


def test_taxifare_get_with_query_string_returns_a_positive_fare(http: httpx.Client) -> None:
    response = http.get(TAXI_QUERY)
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "taxifare"
    [row] = body["predictions"]
    assert isinstance(row["prediction"], float)
    assert row["prediction"] > 0


def test_unknown_model_is_404_naming_the_served_models(http: httpx.Client) -> None:
    response = http.post("/models/no-such-model/predict", json=IRIS_SETOSA)
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "not_found"
    assert "no-such-model" in body["message"]
    assert "iris" in body["message"]
