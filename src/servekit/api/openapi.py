"""The OpenAPI document: FastAPI's, with the refusals every operation can give by its shape.

A route documents what its own logic answers (403 for admins only, 404, 409, 429, 503). What
follows from the request's shape is added here, once for all: a body can be unreadable (400),
too large (413), of another media type (415) or invalid (422); parameters can be invalid (422); credentials can be refused
(401). And every error has servekit's shape (``ErrorPublic``), not FastAPI's ``{"detail"}``.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/ErrorPublic"}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _unreadable(operation: dict[str, Any]) -> str:
    content = operation["requestBody"].get("content", {})
    if "application/json" in content:
        return "The body is not valid JSON"
    return "The body cannot be parsed as the form it says it is"


def _refusals(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The statuses this operation can answer by its shape, each with its description."""
    refusals: dict[str, dict[str, Any]] = {}
    if "requestBody" in operation:
        refusals["400"] = _answer(_unreadable(operation))
        refusals["413"] = _answer("The body is over the size limit")
        refusals["415"] = _answer("The body's Content-Type is not the one this operation reads")
    if "requestBody" in operation or operation.get("parameters"):
        refusals["422"] = _answer("Invalid input: each problem is in `detail`, with its location")
    if operation.get("security"):
        refusals["401"] = _answer("No valid token or API key")
    return refusals


def _uses_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def document_refusals(schema: dict[str, Any]) -> dict[str, Any]:
    """Add each operation's refusals to ``schema`` (in place), in servekit's error shape."""
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for status, answer in _refusals(operation).items():
                if status not in responses or _uses_fastapi_validation(responses[status]):
                    responses[status] = answer
    if "/HTTPValidationError'" not in repr(schema["paths"]):  # now used nowhere
        for name in FASTAPI_VALIDATION:
            schema.get("components", {}).get("schemas", {}).pop(name, None)
    return schema
