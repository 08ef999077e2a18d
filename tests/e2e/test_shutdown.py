"""Process-level overload behaviour: shutdown drains, a second signal forces, disconnects drop rows."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.server import start_server
from tests.slow import calls, slow_repo

PATH = "/models/slow/predict"


def post(url: str, x: float) -> int:
    with httpx.Client(base_url=url, timeout=30) as client:
        return client.post(PATH, json={"x": x}).status_code


def test_sigterm_finishes_requests_in_flight_then_exits_0(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "repo", 0.5)
    server = start_server(repo, tmp_path)
    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(post, server.url, float(i)) for i in range(4)]
        time.sleep(0.2)  # all four accepted: one running, three queued
        server.process.send_signal(signal.SIGTERM)
        assert [p.result() for p in pending] == [200] * 4
    assert server.process.wait(10) == 0
    assert sorted(x for call in calls(repo) for x in call) == [0.0, 1.0, 2.0, 3.0]
    # Once stopped, nothing listens any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0


def test_a_second_sigterm_exits_at_once(tmp_path: Path) -> None:
    server = start_server(slow_repo(tmp_path / "repo", 60), tmp_path)
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(post, server.url, 1.0)
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert server.process.poll() is None  # still draining the 60 s call
        start = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 1  # forced: not the clean exit of a finished drain
        assert time.monotonic() - start < 10
        # The forced exit ends the stuck request with an error (a 5xx, or a dropped connection), never a 200.
        try:
            status = stuck.result(timeout=10)
        except httpx.HTTPError:
            status = 599
        assert status >= 500


def test_a_client_that_disconnects_has_its_queued_row_dropped(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "repo", 0.6)
    server = start_server(repo, tmp_path)
    try:
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(post, server.url, 1.0)
            time.sleep(0.2)
            body = b'{"x": 7.0}'
            with socket.create_connection(("127.0.0.1", server.port)) as raw:
                raw.sendall(
                    b"POST "
                    + PATH.encode()
                    + b" HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                time.sleep(0.1)  # queued behind the running call
            assert running.result() == 200
        time.sleep(0.8)  # long enough for a (wrong) call with 7.0 to be logged
        assert 7.0 not in [x for call in calls(repo) for x in call]
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/metrics").text
        dropped = [
            s.value
            for family in text_string_to_metric_families(page)
            for s in family.samples
            if s.name == "servekit_rejections_total" and s.labels.get("reason") == "disconnect"
        ]
        assert dropped == [1.0]
    finally:
        assert server.stop() == 0
