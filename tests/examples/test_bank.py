"""examples/bank, seed 001's CRUD service, on SQLite and PostgreSQL, and under real uvicorn."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from servekit.loadtest.deployments import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "bank"
sys.path.insert(0, str(EXAMPLE))

ALICE = {"first_name": "Alice", "last_name": "Liddell", "address": "1 Rabbit Hole"}


@pytest.fixture
def bank(database_url: str, restored_logging: None) -> Iterator[TestClient]:
    """The bank app over a new, empty database (the lifespan applies the migrations)."""
    # Imported here, not at collection: importing it instruments its module-level app, which
    # configures logging (undone after the test).
    from bank.app import create_app

    with TestClient(create_app(database_url)) as client:
        yield client


def _account(client: TestClient) -> int:
    answer = client.post("/accounts", json=ALICE)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_create_read_update_delete(bank: TestClient) -> None:
    account_id = _account(bank)
    assert bank.get(f"/accounts/{account_id}").json() == {"id": account_id, **ALICE, "balance": 0}
    changed = {**ALICE, "address": "2 Looking Glass"}
    answer = bank.put(f"/accounts/{account_id}", json=changed)
    assert answer.status_code == 200
    assert answer.json()["address"] == "2 Looking Glass"
    assert [a["id"] for a in bank.get("/accounts").json()] == [account_id]
    assert bank.delete(f"/accounts/{account_id}").status_code == 204
    missing = bank.get(f"/accounts/{account_id}")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "account_not_found",
        "message": f"no account with id {account_id}",
    }


def test_list_pages_with_limit_and_offset(bank: TestClient) -> None:
    ids = [_account(bank) for _ in range(3)]
    page = bank.get("/accounts", params={"limit": 2, "offset": 1}).json()
    assert [a["id"] for a in page] == ids[1:]
    assert bank.get("/accounts", params={"limit": 0}).status_code == 422


def test_balance_is_credits_less_debits(bank: TestClient) -> None:
    account_id = _account(bank)
    for body in ({"credit": 100, "debit": 0}, {"credit": 0, "debit": 30}, {"credit": 5}):
        answer = bank.post(f"/accounts/{account_id}/transactions", json=body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["acc_id"] == account_id
    assert bank.get(f"/accounts/{account_id}").json()["balance"] == 75
    listed = bank.get(f"/accounts/{account_id}/transactions").json()
    assert [(t["credit"], t["debit"]) for t in listed] == [(100, 0), (0, 30), (5, 0)]


@pytest.mark.parametrize(
    "body", [{"credit": -1, "debit": 0}, {"credit": 0, "debit": -5}, {"credit": 0, "debit": 0}]
)
def test_negative_or_empty_transactions_are_refused(bank: TestClient, body: dict[str, int]) -> None:
    account_id = _account(bank)
    answer = bank.post(f"/accounts/{account_id}/transactions", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_input"
    assert bank.get(f"/accounts/{account_id}/transactions").json() == []


def test_invalid_names_are_refused(bank: TestClient) -> None:
    for body in ({**ALICE, "first_name": "  "}, {**ALICE, "last_name": "x" * 101}, {"x": 1}):
        answer = bank.post("/accounts", json=body)
        assert answer.status_code == 422
        assert set(answer.json()) >= {"error", "message"}


def test_transaction_on_a_missing_account_is_404(bank: TestClient) -> None:
    answer = bank.post("/accounts/999/transactions", json={"credit": 1, "debit": 0})
    assert answer.status_code == 404
    assert answer.json()["message"] == "no account with id 999"
    assert bank.get("/accounts/999/transactions").status_code == 404
    assert bank.put("/accounts/999", json=ALICE).status_code == 404
    assert bank.delete("/accounts/999").status_code == 404


def test_an_account_with_transactions_is_not_deleted(bank: TestClient) -> None:
    account_id = _account(bank)
    bank.post(f"/accounts/{account_id}/transactions", json={"credit": 1, "debit": 0})
    answer = bank.delete(f"/accounts/{account_id}")
    assert answer.status_code == 409
    assert answer.json()["error"] == "account_has_transactions"
    assert bank.get(f"/accounts/{account_id}").status_code == 200


def test_the_migrations_create_the_schema(bank: TestClient, database_url: str) -> None:
    async def version() -> object:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return (
                    await connection.execute(text("SELECT version_num FROM bank_alembic_version"))
                ).scalar_one()
        finally:
            await engine.dispose()

    assert asyncio.run(version()) == "0001"


def test_the_documented_command_serves_metrics_by_route(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bank.db'}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stderr = (tmp_path / "stderr").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bank.app:app", "--app-dir", "examples/bank",
         "--port", str(port)],
        cwd=ROOT, env=env, stderr=stderr, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "stderr").read_text()
            try:
                answer = httpx.post(f"{url}/accounts", json=ALICE, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not answer within 30 s"
                time.sleep(0.1)
        assert answer.status_code == 201
        assert httpx.get(f"{url}/accounts/{answer.json()['id']}").status_code == 200
        page = httpx.get(f"{url}/metrics").text
        assert (
            'api_requests_total{method="GET",path="/accounts/{account_id}",status="200"} 1.0'
            in page
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        stderr.close()
    assert (tmp_path / "bank.db").exists()
