"""The HTTP layer's bounds on a spawned server: header size, slow clients, idle connections,
forwarded addresses, the server header, and a 413 that a client still writing its body can read."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import IRIS_SETOSA
from tests.e2e.conftest import ServerFactory
from tests.e2e.server import Server, running_server

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
KEEP_ALIVE = 1.0
MAX_HEADER_BYTES = 16_384
MAX_BODY_BYTES = 2000
DRAIN_BYTES = 3_000_000
GRACE = 3.0
"""Seconds a connection may outlive its timeout on a slow machine (uvicorn's keep-alive is 5 s)."""

SETTINGS = {
    "SERVEKIT_LIMITS__HEADER_TIMEOUT_S": str(HEADER_TIMEOUT),
    "SERVEKIT_LIMITS__BODY_TIMEOUT_S": str(BODY_TIMEOUT),
    "SERVEKIT_LIMITS__KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE),
    "SERVEKIT_LIMITS__MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
    "SERVEKIT_LIMITS__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
    "SERVEKIT_LIMITS__DRAIN_BYTES": str(DRAIN_BYTES),
}


@pytest.fixture(scope="module")
def bounded(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with short timeouts and small limits; no proxy trusted (the default)."""
    with running_server(examples_dir, tmp_path_factory.mktemp("bounded"), env=SETTINGS) as server:
        yield server


@dataclass
class Answer:
    """One HTTP response read off a raw socket."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        """The body as a JSON object."""
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    """A raw TCP connection to the server; reads give up after ``timeout``."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket) -> Answer:
    """Read one response with a Content-Length; fails the test if the connection ends first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed within the answer's body"
        body += chunk
    return Answer(int(status_line.split()[1]), headers, body)


def closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes the connection (reading and dropping what comes first).

    The connection still open (a socket timeout) fails the test, and so does a reset: the
    server must close only once it has read what the client sent, or the answer may be lost.
    """
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {time.monotonic() - start:.1f}s")
    except ConnectionResetError:
        pytest.fail("the server reset the connection")
    return time.monotonic() - start


def request_head(path: str, *lines: str, method: str = "GET") -> bytes:
    """A request line and headers, ended by the blank line."""
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: servekit", *lines, "", ""]).encode()


def test_a_1_mb_header_is_431_at_once_and_healthz_answers_meanwhile(bounded: Server) -> None:
    start = time.monotonic()
    with connect(bounded) as sock:
        sock.sendall(request_head("/healthz", "X-Padding: " + "a" * 1_000_000))
        # The refused connection is still open (lingering) while others are served.
        assert httpx.get(f"{bounded.url}/healthz", timeout=5).status_code == 200
        answer = read_answer(sock)
        assert answer.status == 431
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["connection"] == "close"
        assert answer.json()["error"] == "headers_too_large"
        assert str(MAX_HEADER_BYTES) in str(answer.json()["message"])
        closed_after(sock)
    assert time.monotonic() - start < GRACE


def test_headers_under_the_limit_are_served(bounded: Server) -> None:
    with connect(bounded) as sock:
        sock.sendall(request_head("/healthz", "X-Padding: " + "a" * (MAX_HEADER_BYTES - 200)))
        assert read_answer(sock).status == 200


def test_slow_headers_get_408_after_the_header_timeout(bounded: Server) -> None:
    with connect(bounded) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: servekit\r\nX-Slow: ")
        answer = read_answer(sock)
        elapsed = time.monotonic() - start
        assert answer.status == 408
        assert answer.json()["error"] == "header_timeout"
        closed_after(sock)
    assert HEADER_TIMEOUT - 0.1 <= elapsed <= HEADER_TIMEOUT + GRACE


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    bounded: Server,
) -> None:
    with connect(bounded) as sock:
        elapsed = closed_after(sock)
    assert HEADER_TIMEOUT - 0.1 <= elapsed <= HEADER_TIMEOUT + GRACE


def test_an_unfinished_body_gets_408_and_the_app_sees_the_client_gone(bounded: Server) -> None:
    with connect(bounded) as sock:
        start = time.monotonic()
        head = request_head(
            "/models/iris/predict",
            "Content-Type: application/json",
            "Content-Length: 100",
            "X-Request-ID: unfinished-body",
            method="POST",
        )
        sock.sendall(head + b'{"sepal_length": ')
        answer = read_answer(sock)
        elapsed = time.monotonic() - start
        assert answer.status == 408
        assert answer.json()["error"] == "body_timeout"
        closed_after(sock)
    assert BODY_TIMEOUT - 0.1 <= elapsed <= BODY_TIMEOUT + GRACE
    # The request ended in the app too (499: the client went away), not left waiting.
    [line] = bounded.access_records("unfinished-body")
    assert line["status"] == 499


def test_a_body_in_pieces_within_the_body_timeout_is_served(bounded: Server) -> None:
    body = json.dumps(IRIS_SETOSA).encode()
    with connect(bounded) as sock:
        head = request_head(
            "/models/iris/predict",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            method="POST",
        )
        sock.sendall(head + body[:10])
        time.sleep(BODY_TIMEOUT / 3)
        sock.sendall(body[10:])
        assert read_answer(sock).status == 200


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    bounded: Server,
) -> None:
    with connect(bounded) as sock:
        for _ in range(3):  # kept alive while requests come within the timeout
            sock.sendall(request_head("/healthz"))
            assert read_answer(sock).status == 200
            time.sleep(KEEP_ALIVE / 3)
        elapsed = closed_after(sock) + KEEP_ALIVE / 3
    assert KEEP_ALIVE - 0.1 <= elapsed <= KEEP_ALIVE + GRACE


def client_seen(server: Server, request_id: str) -> object:
    """The client address of one request, as the access log has it."""
    [line] = server.access_records(request_id)
    return line["client"]


def forwarded_get(server: Server, request_id: str) -> httpx.Response:
    """GET /healthz as if through a proxy for 203.0.113.7."""
    headers = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Request-ID": request_id,
    }
    return httpx.get(f"{server.url}/healthz", headers=headers, timeout=5)


def test_x_forwarded_for_from_localhost_is_ignored_by_default(bounded: Server) -> None:
    assert forwarded_get(bounded, "forwarded-untrusted").status_code == 200
    assert client_seen(bounded, "forwarded-untrusted") == "127.0.0.1"


def test_a_trusted_proxy_gives_the_client_address_in_every_worker(
    spawn_server: ServerFactory,
) -> None:
    # Two workers: the protocol and its limits reach the processes that uvicorn spawns.
    env = {
        **SETTINGS,
        "SERVEKIT_WORKERS": "2",
        "SERVEKIT_TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.0/8",
    }
    server = spawn_server(env=env)
    for n in range(4):
        assert forwarded_get(server, f"forwarded-trusted-{n}").status_code == 200
        assert client_seen(server, f"forwarded-trusted-{n}") == "203.0.113.7"
        with connect(server) as sock:
            sock.sendall(request_head("/healthz", "X-Padding: " + "a" * 100_000))
            assert read_answer(sock).status == 431


def test_no_answer_names_the_server_and_every_one_is_dated(bounded: Server) -> None:
    answers = [httpx.get(f"{bounded.url}{path}", timeout=5) for path in ("/healthz", "/nowhere")]
    answers.append(httpx.post(f"{bounded.url}/models/iris/predict", content=b"x" * 5000))
    assert [a.status_code for a in answers] == [200, 404, 413]
    with connect(bounded) as sock:
        sock.sendall(request_head("/healthz", "X-Padding: " + "a" * 100_000))
        refused = read_answer(sock)
    assert refused.status == 431
    for headers in [*(dict(a.headers) for a in answers), refused.headers]:
        assert "server" not in headers
        assert "date" in headers


def oversized_post(length: int, *lines: str) -> bytes:
    """The head of a prediction whose declared body is ``length`` bytes (over the limit)."""
    return request_head(
        "/models/iris/predict",
        "Content-Type: application/json",
        f"Content-Length: {length}",
        *lines,
        method="POST",
    )


def test_a_client_that_writes_its_whole_oversized_body_first_reads_the_413(
    bounded: Server,
) -> None:
    body = b"1" * 2_000_000
    with connect(bounded) as sock:
        sock.sendall(oversized_post(len(body)) + body)  # all of it before reading anything
        answer = read_answer(sock)
        assert answer.status == 413
        assert answer.json()["error"] == "body_too_large"
        # The rest was read and dropped: the connection serves again, then idles out.
        sock.sendall(request_head("/healthz"))
        assert read_answer(sock).status == 200
        assert closed_after(sock) <= KEEP_ALIVE + GRACE


def test_a_client_that_asks_to_close_and_writes_its_body_first_reads_the_413(
    bounded: Server,
) -> None:
    # Answered with Connection: close; closing at once, with the body unread, would send a reset.
    body = b"1" * 2_000_000
    for _ in range(5):
        with connect(bounded) as sock:
            sock.sendall(oversized_post(len(body), "Connection: close") + body)
            answer = read_answer(sock)
            assert answer.status == 413
            assert answer.headers["connection"] == "close"
            assert closed_after(sock) <= GRACE


def test_urllib_reads_the_413_of_a_body_it_writes_whole(bounded: Server) -> None:
    # urllib asks for Connection: close, and writes the whole body before it reads.
    request = urllib.request.Request(
        f"{bounded.url}/models/iris/predict",
        data=b"1" * 2_000_000,
        headers={"Content-Type": "application/json"},
    )
    for _ in range(5):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 413
        assert json.loads(caught.value.read())["error"] == "body_too_large"


def bytes_sent_before_the_server_stops_reading(sock: socket.socket, length: int) -> int:
    """Send up to ``length`` bytes; how many went before a reset or a broken pipe (fails if none)."""
    piece = b"1" * 65536
    sent = 0
    try:
        while sent < length:
            sent += sock.send(piece)
    except (ConnectionResetError, BrokenPipeError):
        return sent
    pytest.fail(f"the server read all {length} bytes")


def test_the_rest_of_a_refused_body_is_read_only_up_to_the_drain_bound(bounded: Server) -> None:
    length = 200_000_000
    with connect(bounded) as sock:
        sock.sendall(oversized_post(length))
        sent = bytes_sent_before_the_server_stops_reading(sock, length)
    # What the kernels buffered came on top of what the server read and dropped.
    assert sent < DRAIN_BYTES + 50_000_000
