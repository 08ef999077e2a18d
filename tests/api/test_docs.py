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


def test_every_operation_documents_the_refusals_its_shape_can_give(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            documented = set(operation["responses"])
            where = f"{method.upper()} {path}"
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= documented, where
            if operation.get("security"):
                assert "401" in documented, where
            for status, answer in operation["responses"].items():
                # Every error in servekit's shape, none in FastAPI's; /readyz's 503 is its
                # report (what is loading, what is unreachable), as probes read it.
                if status >= "400" and path != "/readyz":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorPublic"}, where
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_rules_of_a_password_and_of_feedback_are_in_the_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    password = schemas["UserCreate"]["properties"]["password"]
    assert password["minLength"] == 12
    for rule in ("common", "your name", "email"):
        assert rule in password["description"]
    assert "not" in schemas["UserCreate"]["properties"]["email"]  # special-use domains
    feedback = schemas["FeedbackCreate"]
    assert feedback["anyOf"] == [
        {"required": ["label"], "properties": {"label": {"type": "string"}}},
        {"required": ["score"], "properties": {"score": {"type": "number"}}},
        {"required": ["value"], "properties": {"value": {"type": "number"}}},
    ]
    description = " ".join(feedback["description"].split())
    assert (
        "a label (classifiers), the true value (regressions; a forecast's first step) or a score"
        in (description)
    )
