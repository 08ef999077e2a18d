"""What an API owes every client: safe headers, the body's own media type, small bounded errors,
authentication before parsing, one form of each email, and names without control characters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.test_auth import PASSWORD, SECRET, bearer, login, register, token_for
from tests.conftest import IRIS_SETOSA, AppFactory

PREDICT = "/models/iris/predict"


@pytest.fixture
def client(make_app: AppFactory, tmp_path: Path) -> Iterator[TestClient]:
    app = make_app(allow_anonymous=False, auth={"jwt_secret": SECRET}, data_dir=tmp_path / "data")
    with TestClient(app) as c:
        yield c


def test_every_answer_says_nosniff_and_none_is_cached(client: TestClient) -> None:
    register(client, "ada@example.com")
    token = bearer(token_for(client, "ada@example.com"))
    answers = [
        client.post(PREDICT, json=IRIS_SETOSA, headers=token),  # the express lane
        client.post(PREDICT, json={"petal": 1}, headers=token),  # its errors
        client.post(PREDICT, json=IRIS_SETOSA),  # 401
        client.get("/models/taxifare/predict", headers=token),  # the router's 422
        client.get("/healthz"),
        client.get("/users/me", headers=token),
        client.get("/no/such/route"),
        login(client, "ada@example.com"),
        login(client, "ada@example.com", "wrong password here"),
    ]
    assert answers[7].headers["pragma"] == "no-cache"  # the token's answer (RFC 6749 5.1)
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff", answer.request.url
        assert answer.headers["cache-control"] == "no-store", answer.request.url
        assert "server" not in answer.headers


def test_a_body_that_is_not_json_is_a_415_before_it_is_read(client: TestClient) -> None:
    register(client, "ada@example.com")
    token = bearer(token_for(client, "ada@example.com"))
    body = json.dumps(IRIS_SETOSA)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        for path in (PREDICT, "/models/iris/versions/1/predict"):
            answer = client.post(
                path, content=body, headers={**token, "content-type": content_type}
            )
            assert answer.status_code == 415, (path, content_type, answer.text)
            assert answer.json()["error"] == "unsupported_media_type"
        keys = client.post(
            "/keys", content='{"name": "x"}', headers={**token, "content-type": content_type}
        )
        assert keys.status_code == 415
    no_type = client.post(PREDICT, content=body.encode(), headers=token)
    assert no_type.status_code == 415
    assert "Content-Type: application/json" in no_type.json()["message"]
    # JSON with parameters, and a +json type, are JSON.
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        answer = client.post(PREDICT, content=body, headers={**token, "content-type": content_type})
        assert answer.status_code == 200, answer.text
    # The login form takes a form, not JSON.
    as_json = client.post("/auth/token", json={"username": "ada@example.com", "password": PASSWORD})
    assert as_json.status_code == 415


def test_a_strangers_huge_body_is_a_401_and_a_users_a_small_422(client: TestClient) -> None:
    unknown = {f"k{i}": 0 for i in range(80_000)}
    body = json.dumps(unknown, separators=(",", ":"))
    assert 800_000 < len(body) < 1_048_576  # under the body limit
    anonymous = client.post(PREDICT, content=body, headers={"content-type": "application/json"})
    assert anonymous.status_code == 401
    assert len(anonymous.content) < 1000

    register(client, "ada@example.com")
    token = bearer(token_for(client, "ada@example.com"))
    answer = client.post(
        PREDICT, content=body, headers={**token, "content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert len(answer.content) < 2_000  # 12.7 MB before
    problem = answer.json()["detail"]
    assert [p["type"] for p in problem] == ["too_many_fields"]
    assert "80000 fields; this model takes 4" in problem[0]["msg"]
    # A batch with one such row too.
    batch = json.dumps({"instances": [IRIS_SETOSA, unknown]}, separators=(",", ":"))
    answer = client.post(
        PREDICT, content=batch, headers={**token, "content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "too_many_fields"


def test_many_problems_are_counted_and_the_first_few_listed(client: TestClient) -> None:
    register(client, "ada@example.com")
    token = bearer(token_for(client, "ada@example.com"))
    bad_rows = [{**IRIS_SETOSA, "sepal_length": "x", "petal_width": "y"}] * 30
    answer = client.post(PREDICT, json={"instances": bad_rows}, headers=token)
    assert answer.status_code == 422
    problems = answer.json()
    assert len(problems["detail"]) == 20
    assert problems["message"].startswith("60 problem(s)")
    assert "(and 50 more)" in problems["message"]


def test_a_long_refused_value_is_not_echoed_whole(client: TestClient) -> None:
    register(client, "ada@example.com")
    token = bearer(token_for(client, "ada@example.com"))
    answer = client.post(
        PREDICT, json={**IRIS_SETOSA, "sepal_length": "x" * 100_000}, headers=token
    )
    assert answer.status_code == 422
    assert len(answer.content) < 2000


def test_an_email_has_one_form_whatever_its_case_or_width(client: TestClient) -> None:
    register(client, "ada@example.com")
    full_width = "\uff41\uff44\uff41@example.com"  # "ada" in full-width letters
    for twin in (full_width, "ADA@EXAMPLE.COM", " Ada@example.com "):
        again = client.post("/users", json={"name": "Eve", "email": twin, "password": PASSWORD})
        assert again.status_code in (409, 422), twin
    assert (
        client.post(
            "/users", json={"name": "Eve", "email": full_width, "password": PASSWORD}
        ).status_code
        == 409
    )
    assert login(client, full_width).status_code == 200


@pytest.mark.parametrize("name", ["Ada\x00", "Ada\nroot", "Ada\u202eevil", "\x1b[31mAda"])
def test_a_name_with_control_or_hidden_characters_is_refused(client: TestClient, name: str) -> None:
    answer = client.post(
        "/users", json={"name": name, "email": "x@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 422
    assert "control or invisible" in answer.json()["message"]


def test_the_sqlite_database_and_the_secret_are_private(client: TestClient, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for path in (data / "servekit.db",):
        assert path.stat().st_mode & 0o777 == 0o600, path
    register(client, "ada@example.com")  # written through the WAL
    for path in data.glob("servekit.db*"):
        assert path.stat().st_mode & 0o077 == 0, path
