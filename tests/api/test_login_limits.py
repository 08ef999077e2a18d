"""Failed logins: limits that concurrent guesses cannot race, that every process shares, and that
an attacker who knows an email cannot turn against its owner."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from servekit.auth.ratelimit import DEVICE_COOKIE
from tests.api.test_auth import PASSWORD, SECRET, register
from tests.conftest import AppFactory

OWNER = "ada@example.com"
WRONG = "not the password at all"


def settings(**auth: Any) -> dict[str, Any]:
    return {"auth": {"jwt_secret": SECRET, **auth}}


class FromAddress:
    """The app, with each request seen as coming from its ``x-test-address`` header (tests only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-test-address":
                    scope = {**scope, "client": (value.decode(), 40000)}
        await self.app(scope, receive, send)


def started(app: FastAPI) -> TestClient:
    return TestClient(FromAddress(app))


def login(
    client: TestClient,
    password: str = PASSWORD,
    email: str = OWNER,
    *,
    address: str = "203.0.113.1",
    device: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One login from ``address``, showing the ``device`` cookie if given (and keeping none)."""
    sent = {"x-test-address": address, **(headers or {})}
    if device is not None:
        sent["cookie"] = f"{DEVICE_COOKIE}={device}"
    response = client.post(
        "/auth/token", data={"username": email, "password": password}, headers=sent
    )
    client.cookies.clear()
    return response


def device_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.cookies[DEVICE_COOKIE]


@pytest.fixture
def client(make_app: AppFactory, database_url: str) -> Iterator[TestClient]:
    with started(make_app(database_url=database_url, **settings())) as c:
        register(c, OWNER)
        yield c


def test_concurrent_guesses_cannot_all_pass_the_limit(client: TestClient) -> None:
    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(lambda _: login(client, WRONG).status_code, range(40)))
    assert statuses.count(401) <= 5  # max_failed_logins_per_account, counted before the hash
    assert statuses.count(429) >= 35
    assert set(statuses) == {401, 429}


def test_the_owner_can_sign_in_while_their_email_is_attacked(client: TestClient) -> None:
    home = "198.51.100.20"
    laptop = device_of(login(client, address=home))  # an earlier sign-in left a device cookie

    # The attacker shares the owner's address (a NAT, say) and has no cookie.
    statuses = [login(client, WRONG, address=home).status_code for _ in range(30)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    refused = login(client, address=home)
    assert refused.status_code == 429  # even the right password, from here, without the cookie
    assert int(refused.headers["retry-after"]) >= 1

    assert login(client, address=home, device=laptop).status_code == 200  # the owner's device
    assert login(client, address="192.0.2.44").status_code == 200  # the owner elsewhere
    # A cookie is for its own email: it does not exempt its holder on another account.
    register(client, "bo@example.com")
    on_bo = [
        login(client, WRONG, "bo@example.com", address=home, device=laptop).status_code
        for _ in range(6)
    ]
    assert on_bo == [401] * 5 + [429]


def test_a_device_has_a_limit_of_its_own(client: TestClient) -> None:
    device = device_of(login(client, address="198.51.100.30"))
    statuses = [
        login(client, WRONG, address="198.51.100.30", device=device).status_code for _ in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2


def test_a_forged_device_cookie_exempts_nobody(client: TestClient) -> None:
    device = device_of(login(client, address="198.51.100.31"))
    ident, expiry, signature = device.split(".")
    for i, forged in enumerate((f"{ident}.{int(expiry) + 1}.{signature}", "x.1.z", "garbage")):
        address = f"198.51.100.{40 + i}"
        statuses = [
            login(client, WRONG, address=address, device=forged).status_code for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]


def test_guessing_spread_over_many_addresses_is_limited_per_account(
    make_app: AppFactory, database_url: str
) -> None:
    app = make_app(database_url=database_url, **settings(max_failed_logins_per_account_total=8))
    with started(app) as client:
        register(client, OWNER)
        owner = device_of(login(client, address="192.0.2.1"))
        statuses = [login(client, WRONG, address=f"203.0.113.{i}").status_code for i in range(12)]
        assert statuses == [401] * 8 + [429] * 4
        assert login(client, address="203.0.113.200").status_code == 429
        assert login(client, address="192.0.2.1", device=owner).status_code == 200


def test_a_rotating_forwarded_for_header_does_not_reset_the_address_limit(
    client: TestClient,
) -> None:
    # The app sees the peer's address: X-Forwarded-For is only the client's own claim (the
    # server honours it from trusted proxies only, none by default: tests/e2e/test_http_bounds.py).
    statuses = [
        login(
            client, WRONG, f"user{i}@example.com", headers={"X-Forwarded-For": f"10.0.{i}.1"}
        ).status_code
        for i in range(24)
    ]
    assert statuses == [401] * 20 + [429] * 4


@pytest.mark.parametrize("shared", ["database", "redis"])
def test_every_process_of_a_server_shares_the_counts(
    make_app: AppFactory, database_url: str, redis_url: str, prefix: str, shared: str
) -> None:
    options: dict[str, Any] = {"database_url": database_url, **settings()}
    if shared == "redis":
        options |= {"redis_url": redis_url, "queue": {"prefix": prefix}}
    with started(make_app(**options)) as one, started(make_app(**options)) as two:
        register(one, OWNER)
        statuses = [login(c, WRONG).status_code for c in (one, two, one, two, one, two)]
        assert statuses == [401] * 5 + [429]


def test_password_checks_are_bounded_and_the_rest_refused_with_retry_after(
    make_app: AppFactory, database_url: str
) -> None:
    app = make_app(database_url=database_url, **settings(password_checks=1, password_queue=0))
    with started(app) as client:

        def attempt(i: int) -> httpx.Response:
            return login(client, WRONG, f"user{i}@example.com", address=f"203.0.113.{100 + i}")

        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(attempt, range(12)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {401, 503}
    assert 503 in statuses
    busy = next(a for a in answers if a.status_code == 503)
    assert int(busy.headers["retry-after"]) >= 1
    assert busy.json()["error"] == "overloaded"
