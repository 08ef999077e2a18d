"""API keys: made and revoked by their owner, shown once, stored hashed, sent as X-API-Key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from servekit.storage.db import Database
from servekit.storage.tables import ApiKey
from tests.api.test_auth import SECRET, bearer, register, token_for
from tests.conftest import AppFactory


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    with TestClient(make_app(database_url=database_url, auth={"jwt_secret": SECRET})) as c:
        yield c


def stored_keys(database_url: str) -> list[ApiKey]:
    async def read() -> list[ApiKey]:
        async with Database(database_url) as database, database.session() as session:
            return list((await session.execute(select(ApiKey))).scalars())

    return asyncio.run(read())


def test_a_key_is_shown_once_stored_hashed_and_works_until_revoked(
    client: TestClient, database_url: str
) -> None:
    register(client, "ada@example.com")
    token = token_for(client, "ada@example.com")
    made = client.post("/keys", json={"name": "nightly job"}, headers=bearer(token))
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith(f"sk_{made.json()['prefix']}_")
    [stored] = stored_keys(database_url)
    assert key not in (stored.key_hash, stored.prefix)
    listed = client.get("/keys", headers=bearer(token)).json()
    assert "key" not in listed[0]
    assert key not in str(listed)
    assert client.get("/users/me", headers={"X-API-Key": key}).json()["email"] == "ada@example.com"
    assert client.delete(f"/keys/{made.json()['id']}", headers=bearer(token)).status_code == 204
    refused = client.get("/users/me", headers={"X-API-Key": key})
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
    assert client.get("/keys", headers=bearer(token)).json()[0]["revoked_at"] is not None


def test_keys_are_private_to_their_owner(client: TestClient) -> None:
    register(client, "ada@example.com")
    register(client, "bo@example.com")
    ada, bo = token_for(client, "ada@example.com"), token_for(client, "bo@example.com")
    key_id = client.post("/keys", json={"name": "ada's"}, headers=bearer(ada)).json()["id"]
    assert client.get("/keys", headers=bearer(bo)).json() == []
    assert client.delete(f"/keys/{key_id}", headers=bearer(bo)).status_code == 404
    assert client.delete(f"/keys/{key_id}", headers=bearer(ada)).status_code == 204


@pytest.mark.parametrize("key", ["sk_000000000000_notreal", "garbage", "sk_short_x", ""])
def test_unknown_or_malformed_keys_are_401(client: TestClient, key: str) -> None:
    assert client.get("/users/me", headers={"X-API-Key": key}).status_code == 401


def test_making_a_key_needs_a_login(client: TestClient) -> None:
    assert client.post("/keys", json={"name": "x"}).status_code == 401


def test_listed_keys_and_the_user_say_their_times_in_utc(client: TestClient) -> None:
    # Read back from the database (SQLite drops offsets): still RFC 3339 times, with their zone.
    register(client, "ada@example.com")
    auth = bearer(token_for(client, "ada@example.com"))
    made = client.post("/keys", json={"name": "nightly job"}, headers=auth).json()
    assert client.delete(f"/keys/{made['id']}", headers=auth).status_code == 204
    [listed] = client.get("/keys", headers=auth).json()
    me = client.get("/users/me", headers=auth).json()
    for text in (listed["created_at"], listed["revoked_at"], me["created_at"]):
        assert text.endswith("Z"), text
