"""What the web page lists: a user's recent predictions, and (for admins) everyone's API keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_auth import SECRET, bearer, make_admin, register, token_for
from tests.conftest import IRIS_SETOSA, AppFactory


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    with TestClient(make_app(database_url=database_url, auth={"jwt_secret": SECRET})) as c:
        yield c


def test_a_user_lists_their_own_newest_predictions_and_an_admin_everyones(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    register(client, "bo@example.com")
    make_admin(database_url, "root@example.com")
    ada, bo = (
        bearer(token_for(client, "ada@example.com")),
        bearer(token_for(client, "bo@example.com")),
    )
    ids = []
    for length in (5.0, 6.0, 7.0):
        answer = client.post(
            "/models/iris/predict", json={**IRIS_SETOSA, "sepal_length": length}, headers=ada
        )
        ids.append(answer.json()["predictions"][0]["id"])
    client.post("/models/iris/predict", json=IRIS_SETOSA, headers=bo)
    listed = client.get("/predictions", params={"limit": 2}, headers=ada).json()
    assert [p["id"] for p in listed] == ids[:0:-1]  # the newest two, newest first
    assert listed[0]["inputs"]["sepal_length"] == 7.0
    assert len(client.get("/predictions", headers=bo).json()) == 1
    everyone = client.get("/predictions", headers=bearer(token_for(client, "root@example.com")))
    assert len(everyone.json()) == 4
    assert client.get("/predictions", params={"limit": 0}, headers=ada).status_code == 422
    assert client.get("/predictions", params={"limit": 101}, headers=ada).status_code == 422
    assert client.get("/predictions").status_code == 401


def test_an_admin_lists_and_revokes_anyones_key_and_a_user_cannot(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    make_admin(database_url, "root@example.com")
    ada, root = (
        bearer(token_for(client, "ada@example.com")),
        bearer(token_for(client, "root@example.com")),
    )
    made = client.post("/keys", json={"name": "ada's job"}, headers=ada).json()
    refused = client.get("/keys", params={"everyone": "true"}, headers=ada)
    assert refused.status_code == 403
    assert "admin" in refused.json()["message"]
    assert client.get("/keys", headers=root).json() == []  # without everyone: their own
    [listed] = client.get("/keys", params={"everyone": "true"}, headers=root).json()
    assert listed["name"] == "ada's job"
    assert listed["user_id"] == made["user_id"]
    assert client.delete(f"/keys/{made['id']}", headers=root).status_code == 204
    assert client.get("/users/me", headers={"X-API-Key": made["key"]}).status_code == 401
    assert client.delete(f"/keys/{made['id']}", headers=root).status_code == 404  # already revoked
