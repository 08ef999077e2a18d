"""Seed 003's café (``examples/cafe``): items CRUD on SQLite and PostgreSQL, monitored by servekit."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi.testclient import TestClient

from servekit.loadtest.deployments import free_port

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "cafe"


def load_cafe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cafe", FOLDER / "cafe.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # SQLAlchemy reads the models' annotations through the module, by its name.
    sys.modules["cafe"] = module
    spec.loader.exec_module(module)
    return module


LATTE = {"name": "latte", "description": "espresso and milk", "price_cents": 420}


@pytest.fixture
def client(database_url: str, restored_logging: None) -> Iterator[TestClient]:
    # Loaded here, not at collection: importing it instruments its module-level app.
    cafe = load_cafe()
    with TestClient(cafe.create_app(database_url)) as c:
        yield c


def test_items_are_created_read_listed_replaced_and_deleted(client: TestClient) -> None:
    created = client.post("/items", json=LATTE)
    assert created.status_code == 201
    item = created.json()
    assert item == {**LATTE, "available": True, "id": item["id"]}
    assert client.get(f"/items/{item['id']}").json() == item
    client.post("/items", json={"name": "tea", "price_cents": 250})
    assert [i["name"] for i in client.get("/items").json()] == ["latte", "tea"]
    assert [i["name"] for i in client.get("/items", params={"offset": 1}).json()] == ["tea"]
    replaced = client.put(
        f"/items/{item['id']}", json={**LATTE, "price_cents": 450, "available": False}
    )
    assert replaced.status_code == 200
    assert replaced.json()["price_cents"] == 450
    assert client.get(f"/items/{item['id']}").json()["available"] is False
    assert client.delete(f"/items/{item['id']}").status_code == 204
    gone = client.get(f"/items/{item['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"error": "not_found", "message": f"there is no item {item['id']}"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**LATTE, "price_cents": 0}, "price_cents"),
        ({**LATTE, "price_cents": -5}, "price_cents"),
        ({**LATTE, "name": "   "}, "name"),
        ({**LATTE, "name": "x" * 81}, "name"),
        ({**LATTE, "colour": "brown"}, "colour"),
        ({"name": "latte"}, "price_cents"),
    ],
)
def test_invalid_items_are_a_422_that_names_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    answer = client.post("/items", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert field in answer.json()["message"]


def test_a_second_item_of_one_name_and_missing_items_are_clear_errors(client: TestClient) -> None:
    first = client.post("/items", json=LATTE).json()
    twin = client.post("/items", json=LATTE)
    assert twin.status_code == 409
    assert twin.json() == {"error": "conflict", "message": "an item named 'latte' exists already"}
    tea = client.post("/items", json={"name": "tea", "price_cents": 250}).json()
    assert client.put(f"/items/{tea['id']}", json=LATTE).status_code == 409
    assert client.get(f"/items/{first['id']}").json() == first
    assert client.put("/items/999", json=LATTE).status_code == 404
    assert client.delete("/items/999").status_code == 404
    assert client.get("/items/abc").status_code == 422


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    item = client.post("/items", json=LATTE).json()
    client.get(f"/items/{item['id']}")
    page = client.get("/metrics").text
    assert 'api_requests_total{method="GET",path="/items/{item_id}",status="200"}' in page
    assert 'api_requests_total{method="POST",path="/items",status="201"}' in page
    assert f'path="/items/{item["id"]}"' not in page


def test_the_documented_command_serves_and_keeps_items_in_its_sqlite_file(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "uvicorn", "cafe:app", "--app-dir", str(FOLDER), "--port", str(port),
    ]  # fmt: skip

    def serve() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            command, cwd=tmp_path, env={**os.environ}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, "the café exited at start-up"
            try:
                httpx.get(f"{url}/items", timeout=1)
                return process
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the café did not answer within 30 s")

    def stop(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then raises the signal again: a clean stop ends by SIGTERM.
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)

    process = serve()
    try:
        assert httpx.post(f"{url}/items", json=LATTE).status_code == 201
    finally:
        stop(process)
    assert (tmp_path / "cafe.db").exists()
    process = serve()
    try:
        assert [i["name"] for i in httpx.get(f"{url}/items").json()] == ["latte"]
        assert "api_requests_total" in httpx.get(f"{url}/metrics").text
    finally:
        stop(process)
