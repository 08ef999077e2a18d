"""/docs shows each model's own request schema with a working example."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import TAXI_RIDE


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def test_each_model_has_its_own_body_schema_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/models/iris/predict"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    variants = [resolve(spec, s) for s in content["schema"]["oneOf"]]
    instance = next(v for v in variants if "sepal_length" in v["properties"])
    assert set(instance["required"]) == {
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    }
    assert instance["additionalProperties"] is False
    assert instance["properties"]["sepal_length"]["type"] == "number"
    assert instance["properties"]["sepal_length"]["description"] == "Sepal length in cm"
    batch = next(v for v in variants if "instances" in v["properties"])
    assert batch["properties"]["instances"]["minItems"] == 1
    examples = content["examples"]
    assert set(examples) == {"one row", "a batch"}
    # The documented examples are accepted as they are.
    for example in examples.values():
        assert client.post("/models/iris/predict", json=example["value"]).status_code == 200


def test_query_form_documents_each_feature_as_a_parameter(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    parameters = spec["paths"]["/models/taxifare/predict"]["get"]["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert set(by_name) == set(TAXI_RIDE)
    assert all(p["in"] == "query" and p["required"] for p in parameters)


def test_swagger_and_redoc_pages_are_served(client: TestClient) -> None:
    assert "swagger" in client.get("/docs").text.lower()
    assert client.get("/redoc").status_code == 200
