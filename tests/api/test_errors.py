"""Refusals that the router makes (no such path, a method not served) in servekit's own shape."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


def test_an_unknown_path_is_a_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/nothing/here")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "nothing is served at /nothing/here (the API is listed at /docs)",
    }


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        # Two routes serve this path (GET and POST): Starlette's Allow named only the first's.
        ("OPTIONS", "/models/iris/predict", "GET, POST"),
        ("PUT", "/models/iris/predict", "GET, POST"),
        ("DELETE", "/models/iris/versions/1/predict", "GET, POST"),
        ("PATCH", "/keys", "GET, POST"),
        ("OPTIONS", "/users/7", "GET, PATCH, DELETE"),
        ("OPTIONS", "/users/me", "GET"),  # not /users/{user_id}'s, whose id is a number
    ],
)
def test_a_method_not_served_is_a_405_allowing_every_method_served_there(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {
        "error": "method_not_allowed",
        "message": f"{method} {path} is not served; this path takes {allowed}",
    }


def test_a_form_that_cannot_be_parsed_is_a_400_in_the_error_shape(client: TestClient) -> None:
    response = client.post(
        "/auth/token",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\n",
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request"
    assert set(response.json()) == {"error", "message"}
