"""Bad input always gets a 4xx whose message says what is wrong: never a 500, never a silent guess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import IRIS_SETOSA, TAXI_RIDE, AppFactory
from tests.serving.test_service import probe_repo

PREDICT = "/models/iris/predict"


def post_raw(client: TestClient, body: bytes, path: str = PREDICT) -> Any:
    return client.post(path, content=body, headers={"content-type": "application/json"})


def refusal(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["message"]
    return body


def test_malformed_json_is_400_with_the_parser_reason(client: TestClient) -> None:
    body = refusal(post_raw(client, b'{"sepal_length": 5.1,'), 400)
    assert body["error"] == "invalid_json"
    assert "not valid JSON" in body["message"]


def test_empty_body_is_refused_as_invalid_json(client: TestClient) -> None:
    body = refusal(post_raw(client, b""), 400)
    assert body["error"] == "invalid_json"
    assert "EOF while parsing" in body["message"]


@pytest.mark.parametrize("payload", [b"[1, 2, 3]", b"42", b'"text"', b"null"])
def test_body_that_is_not_an_object_is_refused(client: TestClient, payload: bytes) -> None:
    body = refusal(post_raw(client, payload))
    assert "expected a JSON object" in body["message"]


@pytest.mark.parametrize("value", ["5.1", "five", [5.1], {"v": 5.1}, True])
def test_wrong_type_is_refused_naming_the_feature(client: TestClient, value: Any) -> None:
    body = refusal(client.post(PREDICT, json={**IRIS_SETOSA, "sepal_width": value}))
    assert body["detail"][0]["loc"] == ["body", "sepal_width"]
    assert "sepal_width" in body["message"]
    assert "valid number" in body["detail"][0]["msg"]


def test_missing_feature_is_named(client: TestClient) -> None:
    row = {k: v for k, v in IRIS_SETOSA.items() if k != "petal_width"}
    body = refusal(client.post(PREDICT, json=row))
    assert body["detail"] == [
        {"loc": ["body", "petal_width"], "msg": "missing feature 'petal_width'", "type": "missing"}
    ]


def test_unknown_feature_typo_is_refused_with_a_suggestion(client: TestClient) -> None:
    row = {**IRIS_SETOSA, "petal_widht": 0.2}
    body = refusal(client.post(PREDICT, json=row))
    assert "unknown feature 'petal_widht'" in body["message"]
    assert "did you mean 'petal_width'" in body["message"]


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_refused(client: TestClient, literal: bytes) -> None:
    payload = (
        b'{"sepal_length": %s, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'
        % literal
    )
    body = refusal(post_raw(client, payload))
    assert body["detail"][0]["loc"] == ["body", "sepal_length"]
    assert "finite" in body["detail"][0]["msg"]


def test_nan_inside_a_batch_names_the_row(client: TestClient) -> None:
    payload = b'{"instances": [%s, {"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]}'
    body = refusal(post_raw(client, payload % str(IRIS_SETOSA).replace("'", '"').encode()))
    assert body["detail"][0]["loc"] == ["body", "instances", 1, "sepal_length"]


def test_empty_batch_is_refused(client: TestClient) -> None:
    body = refusal(client.post(PREDICT, json={"instances": []}))
    assert "at least 1 row" in body["message"]


def test_batch_over_the_server_maximum_is_refused(make_app: AppFactory) -> None:
    with TestClient(make_app(limits={"max_batch_rows": 10})) as client:
        assert client.post(PREDICT, json={"instances": [IRIS_SETOSA] * 10}).status_code == 200
        body = refusal(client.post(PREDICT, json={"instances": [IRIS_SETOSA] * 11}))
    assert "at most 10 rows, got 11" in body["message"]


def test_instances_must_be_a_list_of_objects(client: TestClient) -> None:
    refusal(client.post(PREDICT, json={"instances": IRIS_SETOSA}))
    refusal(client.post(PREDICT, json={"instances": [[5.1, 3.5, 1.4, 0.2]]}))


def test_extra_key_beside_instances_is_refused(client: TestClient) -> None:
    body = refusal(client.post(PREDICT, json={"instances": [IRIS_SETOSA], "model": "x"}))
    assert "unknown feature 'model'" in body["message"]


def test_body_over_the_size_limit_is_413(make_app: AppFactory) -> None:
    with TestClient(make_app(limits={"max_body_bytes": 500})) as client:
        body = refusal(client.post(PREDICT, json={"instances": [IRIS_SETOSA] * 20}), 413)
        assert body["error"] == "body_too_large"
        assert "500 bytes" in body["message"]
        assert client.post(PREDICT, json=IRIS_SETOSA).status_code == 200


def test_schema_bounds_are_validation_not_warnings(client: TestClient) -> None:
    body = refusal(client.post(PREDICT, json={**IRIS_SETOSA, "petal_width": -1}))
    assert "greater than or equal to 0" in body["message"]
    body = refusal(
        client.post("/models/taxifare/predict", json={**TAXI_RIDE, "passenger_count": 0})
    )
    assert body["detail"][0]["loc"] == ["body", "passenger_count"]


def test_int_feature_refuses_a_fraction_and_a_bool(client: TestClient) -> None:
    for value in (1.5, True, "2"):
        body = refusal(
            client.post("/models/taxifare/predict", json={**TAXI_RIDE, "passenger_count": value})
        )
        assert body["detail"][0]["loc"] == ["body", "passenger_count"]


def test_int_feature_takes_a_whole_number_written_as_a_float(client: TestClient) -> None:
    # JSON Schema's "integer" counts 7.0 as one, and so do clients' encoders: 7.0 is 7.
    whole = client.post("/models/taxifare/predict", json={**TAXI_RIDE, "passenger_count": 7.0})
    assert whole.status_code == 200, whole.text
    one = client.post("/models/taxifare/predict", json={**TAXI_RIDE, "passenger_count": 7})
    assert (
        whole.json()["predictions"][0]["prediction"] == one.json()["predictions"][0]["prediction"]
    )
    body = refusal(
        client.post("/models/taxifare/predict", json={**TAXI_RIDE, "passenger_count": 7.5})
    )
    assert "fractional part" in body["message"]


def test_an_unbounded_int_feature_takes_the_integers_json_holds_exactly(
    tmp_path: Path, make_app: AppFactory
) -> None:
    # Beyond int64 the model's column could not hold the value (a 500): refused, with the bound.
    repo = probe_repo(tmp_path)
    raw = yaml.safe_load((repo / "probe" / "servekit.yaml").read_text())
    raw["inputs"] = [{"name": "x", "type": "int", "example": 1}]
    (repo / "probe" / "servekit.yaml").write_text(yaml.safe_dump(raw))
    with TestClient(make_app(model_repository=repo)) as client:
        assert client.post("/models/probe/predict", json={"x": 2**53 - 1}).status_code == 200
        body = refusal(client.post("/models/probe/predict", json={"x": 2**64}))
        spec = client.get("/openapi.json").json()["components"]["schemas"]["ProbeV1Input"]
    assert f"less than or equal to {2**53 - 1}" in body["message"]
    assert spec["properties"]["x"]["maximum"] == 2**53 - 1
    assert spec["properties"]["x"]["minimum"] == -(2**53 - 1)


@pytest.mark.parametrize(
    "value", ["yesterday", "2013-13-45 10:00:00", 12.5, 1373131080, "1373131080", " -1.5e9 "]
)
def test_bad_datetime_is_refused(client: TestClient, value: Any) -> None:
    body = refusal(
        client.post("/models/taxifare/predict", json={**TAXI_RIDE, "pickup_datetime": value})
    )
    assert body["detail"][0]["loc"] == ["body", "pickup_datetime"]


@pytest.mark.parametrize("value", ["1373131080", "10000000000"])
def test_a_number_is_no_datetime_in_a_query_string_either(client: TestClient, value: str) -> None:
    body = refusal(
        client.get("/models/taxifare/predict", params={**TAXI_RIDE, "pickup_datetime": value})
    )
    assert body["detail"][0]["loc"] == ["query", "pickup_datetime"]
    assert "ISO 8601" in body["detail"][0]["msg"]


@pytest.mark.parametrize(
    "when",
    [
        "2013-07-06 17:18:00 UTC",
        "2013-07-06T17:18:00Z",
        "2013-07-06T19:18:00+02:00",
        "2013-07-06T17:18:00",
    ],
)
def test_datetime_forms_that_mean_the_same_instant_agree(client: TestClient, when: str) -> None:
    reference = client.post("/models/taxifare/predict", json=TAXI_RIDE).json()["predictions"][0][
        "prediction"
    ]
    response = client.post("/models/taxifare/predict", json={**TAXI_RIDE, "pickup_datetime": when})
    assert response.status_code == 200
    assert response.json()["predictions"][0]["prediction"] == reference


def test_query_string_is_validated_like_the_body(client: TestClient) -> None:
    path = "/models/taxifare/predict"
    body = refusal(client.get(path, params={**TAXI_RIDE, "passenger_count": "two"}))
    assert body["detail"][0]["loc"] == ["query", "passenger_count"]
    body = refusal(
        client.get(path, params={k: v for k, v in TAXI_RIDE.items() if k != "pickup_latitude"})
    )
    assert "missing feature 'pickup_latitude'" in body["message"]
    body = refusal(client.get(path, params={**TAXI_RIDE, "pasenger_count": 1}))
    assert "did you mean 'passenger_count'" in body["message"]
    body = refusal(client.get(path, params={**TAXI_RIDE, "pickup_latitude": "nan"}))
    assert "finite" in body["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/models/unknown/predict"),
        ("GET", "/models/unknown/predict"),
        ("POST", "/models/unknown/versions/1/predict"),
        ("GET", "/models/unknown"),
    ],
)
def test_unknown_model_is_404_naming_the_served_ones(
    client: TestClient, method: str, path: str
) -> None:
    body = refusal(client.request(method, path, json=IRIS_SETOSA), 404)
    assert "'unknown' is not served" in body["message"]
    assert "iris" in body["message"]


def test_unknown_version_is_404_naming_the_versions(client: TestClient) -> None:
    body = refusal(client.post("/models/iris/versions/7/predict", json=IRIS_SETOSA), 404)
    assert body["message"] == "model 'iris' has no version '7'; versions: 1"
    refusal(client.get("/models/iris/versions/7"), 404)


def test_no_bad_input_reaches_a_500(client: TestClient) -> None:
    payloads = [
        b"{",
        b"[]",
        b'{"instances": null}',
        b'{"instances": [null]}',
        b'{"instances": [{}]}',
        b"\xff\xfe",
    ]
    for payload in payloads:
        assert 400 <= post_raw(client, payload).status_code < 500, payload
