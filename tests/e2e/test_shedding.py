"""Refusals at the connection on a spawned server: an overloaded model's requests are answered
503 from their request line alone, the connection stays usable, a client that retries at once
is held until its Retry-After, and the refusals are counted and logged in summary."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, running_server
from tests.e2e.test_http_bounds import Answer, connect, read_answer
from tests.slow import slow_repo

PATH = "/models/slow/predict"
CALL_S = 0.4
QUEUE = 2
IN_PROGRESS = QUEUE
"""Requests the model takes at once: as many as its queue holds rows (one running, one queued)."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A slow model (0.4 s a call, a row a call, 2 rows of queue) open to anonymous callers."""
    models = slow_repo(tmp_path / "models", CALL_S, max_batch_size=1, max_queue_rows=QUEUE)
    env = {"SERVEKIT_ALLOW_ANONYMOUS": "true"}
    with running_server(models, tmp_path, env=env) as running:
        yield running


def predict(x: float | str, request_id: str = "", close: bool = False) -> bytes:
    """A POST of one row (or of ``x`` itself as the body, when it is a string)."""
    body = x.encode() if isinstance(x, str) else b'{"x": %r}' % x
    lines = [
        f"POST {PATH} HTTP/1.1",
        "Host: servekit",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    lines += [f"X-Request-ID: {request_id}"] if request_id else []
    lines += ["Connection: close"] if close else []
    return "\r\n".join([*lines, "", ""]).encode() + body


def fill(server: Server) -> list[socket.socket]:
    """Connections whose requests the model holds (one call running, the next one queued)."""
    held = []
    for i in range(IN_PROGRESS):
        sock = connect(server)
        sock.sendall(predict(float(i)))
        held.append(sock)
        time.sleep(0.02)
    time.sleep(0.1)
    return held


def refused(sock: socket.socket, request: bytes) -> tuple[Answer, float]:
    """Send ``request``; its answer, which must be a 503, and how long it took."""
    start = time.monotonic()
    sock.sendall(request)
    answer = read_answer(sock)
    assert answer.status == 503, answer
    return answer, time.monotonic() - start


def test_an_overloaded_model_refuses_at_once_without_reading_the_body(server: Server) -> None:
    held = fill(server)
    with connect(server) as sock:
        answer, took = refused(sock, predict(9.0, "shed-1"))
        assert took < CALL_S / 2  # not after the call that holds the model
        assert 1 <= int(answer.headers["retry-after"]) <= 3  # spread over a few seconds
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["x-request-id"] == "shed-1"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert "date" in answer.headers
        assert answer.json()["error"] == "overloaded"
        assert "slow:1" in str(answer.json()["message"])
        assert "retry later" in str(answer.json()["message"])
    # A body that is not even JSON is refused the same: nothing of it was parsed.
    with connect(server) as sock:
        answer, _ = refused(sock, predict("{not json"))
        assert answer.json()["error"] == "overloaded"
    for sock in held:
        assert read_answer(sock).status == 200
        sock.close()


def test_a_refused_connection_stays_open_and_is_served_once_the_model_has_room(
    server: Server,
) -> None:
    held = fill(server)
    with connect(server) as sock:
        answer, _ = refused(sock, predict(9.0))
        for other in held:
            assert read_answer(other).status == 200
            other.close()
        time.sleep(int(answer.headers["retry-after"]))  # honoured
        start = time.monotonic()
        sock.sendall(predict(5.0))
        answer = read_answer(sock)
        assert answer.status == 200
        assert answer.json()["predictions"][0]["prediction"] == 10.0  # type: ignore[index]
        assert time.monotonic() - start < 0.5  # a patient client is not held
        # A client that asked to close gets its refusal, then the close.
        held = fill(server)
        sock.sendall(predict(9.0, close=True))
        answer = read_answer(sock)
        assert answer.status == 503
        assert answer.headers["connection"] == "close"
        assert sock.recv(1) == b""
    for other in held:
        other.close()


def test_a_client_that_retries_at_once_waits_for_half_its_retry_after(server: Server) -> None:
    held = fill(server)
    with connect(server) as sock:
        start = time.monotonic()
        refused(sock, predict(9.0))
        sock.sendall(predict(8.0))  # at once, without waiting the second it was told
        # Meanwhile the server answers everyone else at once.
        assert httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200
        answer = read_answer(sock)
        assert time.monotonic() - start >= 0.45
        assert answer.status in (200, 503)
    for other in held:
        other.close()


def test_a_client_that_retries_at_once_is_let_in_at_once_when_the_model_has_room(
    server: Server,
) -> None:
    start = time.monotonic()
    held = fill(server)
    with connect(server) as sock:
        time.sleep(max(0.0, start + 2 * CALL_S - 0.1 - time.monotonic()))
        refused(sock, predict(9.0))  # just before the second held call ends
        assert [read_answer(other).status for other in held] == [200, 200]  # room again
        sent = time.monotonic()
        sock.sendall(predict(7.0, "impatient"))  # at once, long before its Retry-After
        answer = read_answer(sock)
        waited = time.monotonic() - sent
        assert answer.status == 200
    for other in held:
        other.close()
    # The server read it when it came: the wait the client saw is the server's own time on it
    # (queued behind the other held call, then its own), not that plus a pause after the refusal,
    # which is at least 0.5 s.
    (record,) = server.wait_for_records(lambda r: r.get("request_id") == "impatient")
    assert waited - float(str(record["duration_ms"])) / 1000 < 0.3


def test_clients_gone_in_the_middle_leave_no_place_taken(server: Server) -> None:
    for _ in range(3):
        for sock in fill(server):
            sock.close()  # before their answers
    time.sleep(3 * CALL_S)  # the model finishes what they asked for
    with httpx.Client(base_url=server.url, timeout=5) as client:
        answers = [client.post(PATH, json={"x": float(i)}) for i in range(IN_PROGRESS + 2)]
    assert [a.status_code for a in answers] == [200] * (IN_PROGRESS + 2)


def test_refusals_are_counted_and_logged_once_a_second(server: Server) -> None:
    held = fill(server)
    refusals = 5
    for i in range(refusals):
        with connect(server) as sock:
            refused(sock, predict(9.0, f"counted-{i}"))
    for other in held:
        other.close()
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    line = f'api_requests_total{{method="POST",path="{PATH}",status="503"}} {refusals}.0'
    assert line in metrics
    time.sleep(1.5)  # the last second's count is written at its end

    def summary(r: dict[str, object]) -> bool:
        return r.get("logger") == "servekit.access" and r.get("status") == 503

    lines = server.wait_for_records(summary)
    assert sum(int(str(r["refused"])) for r in lines) == refusals
    assert len(lines) == 2  # the first at once, then the rest of that second
    assert all(r["route"] == PATH and "slow:1" in str(r["message"]) for r in lines)
    # No refusal has a line of its own.
    assert not [r for r in server.records() if str(r.get("request_id", "")).startswith("counted")]


def test_pipelined_and_http_1_0_requests_are_refused_in_order(server: Server) -> None:
    held = fill(server)
    with connect(server) as sock:
        sock.sendall(predict(9.0, "first") + predict(8.0, "second"))  # one write, two requests
        answers = [read_answer(sock), read_answer(sock)]
        assert [a.status for a in answers] == [503, 503]
        assert [a.headers["x-request-id"] for a in answers] == ["first", "second"]
    for other in held:
        other.close()
    held = fill(server)  # the second refusal waited the connection's pause: the model had room
    with connect(server) as sock:
        old = predict(9.0).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
        answer, _ = refused(sock, old)
        assert answer.headers["connection"] == "close"
        assert sock.recv(1) == b""  # closed once the answer was read
    for other in held:
        other.close()
