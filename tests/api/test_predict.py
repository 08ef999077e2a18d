"""Predictions over HTTP: one row, a batch, the query string and pinned versions."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import IRIS_SETOSA, TAXI_RIDE


def test_one_iris_row_is_setosa_without_warning(client: TestClient) -> None:
    response = client.post("/models/iris/predict", json=IRIS_SETOSA)
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["version"]) == ("iris", "1")
    [row] = body["predictions"]
    assert row["prediction"] == "setosa"
    assert row["warnings"] == []
    assert set(row["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert abs(sum(row["probabilities"].values()) - 1) < 1e-9
    assert row["probabilities"]["setosa"] > 0.9
    assert len(row["id"]) == 32


def test_out_of_range_row_warns_naming_the_feature(client: TestClient) -> None:
    response = client.post("/models/iris/predict", json={**IRIS_SETOSA, "sepal_length": 50})
    assert response.status_code == 200
    warnings = response.json()["predictions"][0]["warnings"]
    [range_warning] = [w for w in warnings if w["kind"] == "out_of_range"]
    assert range_warning["feature"] == "sepal_length"
    assert range_warning["value"] == 50
    assert "4.3" in range_warning["message"]
    assert "7.9" in range_warning["message"]
    assert range_warning["expected"].startswith("between ")


def test_batch_of_100_rows_is_answered_in_one_request(client: TestClient) -> None:
    virginica = {"sepal_length": 6.5, "sepal_width": 3.0, "petal_length": 5.8, "petal_width": 2.2}
    # From a setosa flower to a virginica one in 100 steps.
    rows = [
        {k: IRIS_SETOSA[k] + (virginica[k] - IRIS_SETOSA[k]) * i / 99 for k in IRIS_SETOSA}
        for i in range(100)
    ]
    response = client.post("/models/iris/predict", json={"instances": rows})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 100
    assert len({p["id"] for p in predictions}) == 100
    # Rows keep their order: short petals are setosa, long ones are not.
    assert predictions[0]["prediction"] == "setosa"
    assert predictions[-1]["prediction"] == "virginica"


def test_taxifare_get_with_query_parameters_returns_a_positive_fare(client: TestClient) -> None:
    response = client.get("/models/taxifare/predict", params=TAXI_RIDE)
    assert response.status_code == 200
    [row] = response.json()["predictions"]
    assert isinstance(row["prediction"], float)
    assert row["prediction"] > 0
    assert row["warnings"] == []
    assert "probabilities" not in row


def test_get_and_post_give_the_same_fare(client: TestClient) -> None:
    by_get = client.get("/models/taxifare/predict", params=TAXI_RIDE).json()["predictions"][0]
    by_post = client.post("/models/taxifare/predict", json=TAXI_RIDE).json()["predictions"][0]
    assert by_get["prediction"] == by_post["prediction"]


def test_longer_ride_costs_more(client: TestClient) -> None:
    near = client.post("/models/taxifare/predict", json=TAXI_RIDE).json()["predictions"][0][
        "prediction"
    ]
    far_ride = {**TAXI_RIDE, "dropoff_longitude": -74.01, "dropoff_latitude": 40.71}
    far = client.post("/models/taxifare/predict", json=far_ride).json()["predictions"][0][
        "prediction"
    ]
    assert far > near


def test_pinned_version_route(client: TestClient) -> None:
    response = client.post("/models/iris/versions/1/predict", json=IRIS_SETOSA)
    assert response.status_code == 200
    assert response.json()["version"] == "1"
    # The query-string form too, as for the latest version.
    query = client.get("/models/iris/versions/1/predict", params=IRIS_SETOSA)
    assert query.status_code == 200, query.text
    assert query.json()["version"] == "1"
    assert query.json()["predictions"][0]["prediction"] == "setosa"
    assert client.get("/models/iris/versions/9/predict", params=IRIS_SETOSA).status_code == 404


def strict_json(text: str) -> Any:
    """The body, parsed as JSON.parse would: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the body is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_iris_rows_too_extreme_for_the_model_are_a_422_naming_the_output(
    client: TestClient,
) -> None:
    # Valid, finite input, whose scaling overflows: the model computes NaN probabilities.
    huge = dict.fromkeys(IRIS_SETOSA, 1e308)
    posted = client.post("/models/iris/predict", json={"instances": [IRIS_SETOSA, huge]})
    queried = client.get("/models/iris/predict", params={**IRIS_SETOSA, "petal_length": 1.67e308})
    for response, row in ((posted, 1), (queried, 0)):
        assert response.status_code == 422
        body = strict_json(response.text)
        assert body["error"] == "non_finite_output"
        assert f"row {row}: probabilities.setosa = nan" in body["message"]
        assert ["row", row, "probabilities.setosa"] in [d["loc"] for d in body["detail"]]


def test_a_distance_too_large_for_a_number_is_warned_about_as_text(client: TestClient) -> None:
    response = client.post("/models/iris/predict", json={**IRIS_SETOSA, "petal_width": 1e300})
    assert response.status_code == 200
    [row] = strict_json(response.text)["predictions"]
    [far] = [w for w in row["warnings"] if w["kind"] == "multivariate_outlier"]
    assert far["value"] == "inf"
