"""A token signed with the server's own secret is still checked claim by claim: 401, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_auth import SECRET, bearer, forged, register
from tests.conftest import IRIS_SETOSA, AppFactory


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    app = make_app(database_url=database_url, allow_anonymous=False, auth={"jwt_secret": SECRET})
    with TestClient(app) as c:
        yield c


def claims(**changed: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    base = {
        "sub": "1",
        "role": "user",
        "gen": 0,
        "iss": "servekit",
        "aud": "servekit-api",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return {**base, **changed}


@pytest.mark.parametrize(
    "bad",
    [
        {"sub": str(10**30)},
        {"sub": 10**30},
        {"sub": "2147483648"},  # one past a 32-bit id
        {"sub": "-1"},
        {"sub": "0"},
        {"sub": "1.5"},
        {"sub": "abc"},
        {"sub": "\uff11"},  # a full-width digit one
        {"sub": ["1"]},
        {"role": "root"},
        {"role": 1},
        {"gen": "0"},
        {"gen": 1.0},
        {"gen": -1},
        {"gen": 10**30},
    ],
    ids=repr,
)
def test_a_signed_token_with_a_bad_claim_is_a_401(client: TestClient, bad: dict[str, Any]) -> None:
    register(client, "ada@example.com")  # user 1 exists
    token = forged(claims(**bad))
    for response in (
        client.post("/models/iris/predict", json=IRIS_SETOSA, headers=bearer(token)),
        client.get("/users/me", headers=bearer(token)),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "not_authenticated"


def test_a_signed_token_for_a_user_that_never_existed_predicts_nothing(client: TestClient) -> None:
    token = forged(claims(sub="2147483647"))
    response = client.post("/models/iris/predict", json=IRIS_SETOSA, headers=bearer(token))
    assert response.status_code == 401
    assert "no longer exists" in response.json()["message"]
