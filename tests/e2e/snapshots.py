"""Helpers for tests of ``GET /monitor/snapshot`` on real servers: counted traffic, and polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

Snapshot = dict[str, Any]

EVENTUAL_S = 20.0
"""How long a test waits for an eventual value (a worker's part, a process's counts)."""

PASSWORD = "correct horse battery staple"


class CountedClient:
    """An HTTP client that remembers the status of every request it sent, and reads snapshots.

    Each request goes on a new connection, so that a server of several processes spreads them.
    """

    def __init__(self, url: str) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        self.http = httpx.Client(base_url=url, timeout=30.0, limits=limits)
        self.statuses: list[int] = []

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, counted."""
        response = self.http.request(method, path, **kwargs)
        self.statuses.append(response.status_code)
        return response

    def snapshot(self) -> Snapshot:
        """The snapshot now (not counted: the server does not count it either)."""
        response = self.http.get("/monitor/snapshot")
        assert response.status_code == 200, response.text
        body: Snapshot = response.json()
        return body

    def wait_for(self, check: Callable[[Snapshot], bool], what: str) -> Snapshot:
        """The first snapshot that passes ``check``; fails saying ``what`` was awaited."""
        deadline = time.monotonic() + EVENTUAL_S
        while True:
            snapshot = self.snapshot()
            if check(snapshot):
                return snapshot
            if time.monotonic() > deadline:
                pytest.fail(f"no snapshot with {what} within {EVENTUAL_S}s; last: {snapshot}")
            time.sleep(0.05)

    def sign_up(self, email: str) -> dict[str, str]:
        """Register and log in; the token's headers."""
        user = {"name": "Someone", "email": email, "password": PASSWORD}
        assert self.request("POST", "/users", json=user).status_code == 201
        form = {"username": email, "password": PASSWORD}
        token = self.request("POST", "/auth/token", data=form).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def feedback(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        """Send feedback until it is taken: another process may not have logged the prediction yet."""
        deadline = time.monotonic() + EVENTUAL_S
        while True:
            response = self.request("POST", "/feedback", json=body, headers=headers)
            if response.status_code == 201:
                return
            assert response.status_code == 404, response.text
            assert time.monotonic() < deadline, "the prediction was never logged"
            time.sleep(0.05)

    def close(self) -> None:
        """Close the connections."""
        self.http.close()


def model(snapshot: Snapshot, name: str) -> dict[str, Any]:
    """One model's part of a snapshot (its latest version)."""
    found: dict[str, Any] = [m for m in snapshot["models"] if m["name"] == name][-1]
    return found


def requests_delta(before: Snapshot, after: Snapshot) -> dict[str, int]:
    """How much the request counts grew."""
    return {k: after["requests"][k] - before["requests"][k] for k in after["requests"]}


def expected_requests(statuses: list[int]) -> dict[str, int]:
    """The request counts that these answers make."""
    return {
        "total": len(statuses),
        "errors": sum(s >= 500 for s in statuses),
        "client_errors": sum(400 <= s < 500 for s in statuses),
    }
