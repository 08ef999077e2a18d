"""Predictions need a token or an API key by default; a setting opens them to anonymous callers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.test_auth import SECRET, bearer, register, token_for
from tests.conftest import IRIS_SETOSA, TAXI_RIDE, AppFactory

PREDICT = "/models/iris/predict"


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    app = make_app(
        database_url=database_url,
        allow_anonymous=False,
        auth={"jwt_secret": SECRET, "access_cache_s": 0},
    )
    with TestClient(app) as c:
        yield c


def test_anonymous_predictions_are_refused_by_default(client: TestClient) -> None:
    for response in (
        client.post(PREDICT, json=IRIS_SETOSA),
        client.post("/models/iris/versions/1/predict", json=IRIS_SETOSA),
        client.get("/models/taxifare/predict", params=TAXI_RIDE),
    ):
        assert response.status_code == 401
        assert "token" in response.json()["message"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_or_a_key_gets_predictions(client: TestClient) -> None:
    register(client, "ada@example.com")
    token = token_for(client, "ada@example.com")
    assert client.post(PREDICT, json=IRIS_SETOSA, headers=bearer(token)).status_code == 200
    assert (
        client.get("/models/taxifare/predict", params=TAXI_RIDE, headers=bearer(token)).status_code
        == 200
    )
    made = client.post("/keys", json={"name": "job"}, headers=bearer(token)).json()
    key = {"X-API-Key": made["key"]}
    assert (
        client.post(PREDICT, json=IRIS_SETOSA, headers=key).json()["predictions"][0]["prediction"]
        == "setosa"
    )
    client.delete(f"/keys/{made['id']}", headers=bearer(token))
    assert client.post(PREDICT, json=IRIS_SETOSA, headers=key).status_code == 401


@pytest.mark.parametrize("authorization", ["Bearer not.a.token", "Basic YWRhOnB3", "Bearer"])
def test_bad_credentials_are_401_even_when_anonymous_is_allowed(
    make_app: AppFactory, authorization: str
) -> None:
    with TestClient(make_app(auth={"jwt_secret": SECRET})) as client:
        assert client.post(PREDICT, json=IRIS_SETOSA).status_code == 200  # anonymous: allowed here
        assert (
            client.post(
                PREDICT, json=IRIS_SETOSA, headers={"Authorization": authorization}
            ).status_code
            == 401
        )


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Basic YWRhOnB3"}, "send the token as Authorization: Bearer <token>"),
        ({"Authorization": "Bearer"}, "send the token as Authorization: Bearer <token>"),
        ({"X-API-Key": "sk_000000000000_notreal"}, "the API key is not valid"),
    ],
)
def test_predictions_and_account_routes_read_credentials_alike(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    for response in (
        client.post(PREDICT, json=IRIS_SETOSA, headers=headers),
        client.get("/users/me", headers=headers),
    ):
        assert response.status_code == 401
        assert message in response.json()["message"]
