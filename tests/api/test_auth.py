"""Register, log in, and every refusal: tampered, alg none, other algorithm, expired, wrong issuer."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from servekit.auth.passwords import hash_password
from servekit.exceptions import ConfigurationError
from servekit.storage.db import Database
from servekit.storage.users import create_user
from tests.conftest import AppFactory

SECRET = "a-test-secret-long-enough-that-an-hs512-forgery-uses-the-same-key!!"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    app = make_app(
        database_url=database_url, auth={"jwt_secret": SECRET, "max_failed_logins_per_account": 3}
    )
    with TestClient(app) as c:
        yield c


def register(client: TestClient, email: str, name: str = "Someone") -> dict[str, Any]:
    response = client.post("/users", json={"name": name, "email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def login(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/auth/token", data={"username": email, "password": password})


def token_for(client: TestClient, email: str) -> str:
    response = login(client, email)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_admin(database_url: str, email: str) -> None:
    async def main() -> None:
        async with Database(database_url) as database, database.session() as session:
            await create_user(
                session,
                email=email,
                name="Admin",
                password_hash=hash_password(PASSWORD),
                role="admin",
            )

    asyncio.run(main())


def test_register_login_and_read_oneself(client: TestClient) -> None:
    user = register(client, "ada@example.com", "Ada")
    assert set(user) == {"id", "email", "name", "role", "created_at"}
    assert user["role"] == "user"
    response = login(client, "ADA@example.com")
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], audience="servekit-api")
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert claims["iss"] == "servekit"
    me = client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.json()["email"] == "ada@example.com"
    assert "password" not in me.text
    assert (
        client.get(f"/users/{user['id']}", headers=bearer(body["access_token"])).status_code == 200
    )


def test_duplicate_email_is_409_and_weak_password_422(client: TestClient) -> None:
    register(client, "ada@example.com")
    duplicate = client.post(
        "/users", json={"name": "Other", "email": "Ada@Example.com", "password": PASSWORD}
    )
    assert duplicate.status_code == 409
    weak = client.post(
        "/users", json={"name": "Bo", "email": "bo@example.com", "password": "short"}
    )
    assert weak.status_code == 422
    assert "at least 12 characters" in weak.json()["message"]
    bad_email = client.post(
        "/users", json={"name": "Bo", "email": "bo-at-example", "password": PASSWORD}
    )
    assert bad_email.status_code == 422


def forged(claims: dict[str, Any], *, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return (
            base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()
        )

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_every_bad_token_is_refused_with_401(client: TestClient) -> None:
    user = register(client, "ada@example.com")
    now = datetime.now(UTC)
    good = {
        "sub": str(user["id"]),
        "role": "admin",
        "iss": "servekit",
        "aud": "servekit-api",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    real = token_for(client, "ada@example.com")
    head, _payload, signature = real.split(".")
    tampered_payload = (
        base64.urlsafe_b64encode(
            json.dumps(
                {**jwt.decode(real, options={"verify_signature": False}), "role": "admin"}
            ).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    bad_tokens = {
        "alg none": unsigned(
            {
                **good,
                "iat": int(now.timestamp()),
                "exp": int((now + timedelta(minutes=5)).timestamp()),
            }
        ),
        "another algorithm": forged(good, algorithm="HS512"),
        "another key": forged(
            good, key="another-secret-that-is-also-long-enough-for-any-of-the-hmac-algorithms"
        ),
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "expired": forged(
            {**good, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}
        ),
        "no exp": forged({k: v for k, v in good.items() if k != "exp"}),
        "wrong issuer": forged({**good, "iss": "someone-else"}),
        "wrong audience": forged({**good, "aud": "another-api"}),
        "garbage": "not.a.token",
    }
    for name, token in bad_tokens.items():
        response = client.get("/users/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
    assert client.get("/users/me").status_code == 401
    assert (
        "expired"
        in client.get("/users/me", headers=bearer(bad_tokens["expired"])).json()["message"]
    )
    assert client.get("/users/me", headers=bearer(real)).status_code == 200


def test_failed_logins_are_rate_limited_with_one_generic_message(client: TestClient) -> None:
    register(client, "ada@example.com")
    wrong = [login(client, "ada@example.com", "wrong password here") for _ in range(3)]
    assert [r.status_code for r in wrong] == [401, 401, 401]
    unknown = login(client, "nobody@example.com", "wrong password here")
    assert unknown.status_code == 401
    assert unknown.json()["message"] == wrong[0].json()["message"] == "wrong email or password"
    limited = login(client, "ada@example.com")  # even the right password waits now
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert (
        login(client, "nobody@example.com", "x").status_code == 401
    )  # other accounts are not locked


def test_admins_list_and_delete_users_and_users_see_only_themselves(
    client: TestClient, database_url: str
) -> None:
    ada = register(client, "ada@example.com")
    bo = register(client, "bo@example.com")
    make_admin(database_url, "root@example.com")
    ada_token, admin_token = (
        token_for(client, "ada@example.com"),
        token_for(client, "root@example.com"),
    )
    assert client.get("/users", headers=bearer(ada_token)).status_code == 403
    assert client.delete(f"/users/{bo['id']}", headers=bearer(ada_token)).status_code == 403
    assert client.get(f"/users/{bo['id']}", headers=bearer(ada_token)).status_code == 404
    listed = client.get("/users", headers=bearer(admin_token)).json()
    assert {u["email"] for u in listed} == {"ada@example.com", "bo@example.com", "root@example.com"}
    assert (
        client.get(f"/users/{ada['id']}", headers=bearer(admin_token)).json()["email"]
        == "ada@example.com"
    )
    assert client.delete(f"/users/{bo['id']}", headers=bearer(admin_token)).status_code == 204
    assert client.delete(f"/users/{bo['id']}", headers=bearer(admin_token)).status_code == 404
    assert login(client, "bo@example.com").status_code == 401


def test_development_generates_and_keeps_a_private_secret(
    make_app: AppFactory, tmp_path: Path
) -> None:
    make_app(data_dir=tmp_path / "state")
    secret = tmp_path / "state" / "jwt-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    first = secret.read_text()
    make_app(data_dir=tmp_path / "state")
    assert secret.read_text() == first


def test_production_refuses_to_start_without_a_secret(make_app: AppFactory) -> None:
    with pytest.raises(ConfigurationError, match="must be set in production"):
        make_app(environment="production")
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        make_app(auth={"jwt_secret": "short"})
