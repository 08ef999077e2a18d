"""The README's instrumented example app under real uvicorn with two worker processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from servekit.loadtest.deployments import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monitored"


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "uvicorn exited before it answered"
        try:
            if httpx.get(f"{url}/items/1", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("uvicorn did not answer within 30 s")


def sample(page: str, name: str, labels: str) -> float:
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", page, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_two_worker_processes_report_one_sum_whichever_answers_the_scrape(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    stderr = (tmp_path / "stderr").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--app-dir", str(EXAMPLE),
         "--port", str(port), "--workers", "2"],
        env=env, stderr=stderr, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_up(url, process)
        pids = set()
        # A new connection each time, so that both processes take some of them.
        for i in range(40):
            answer = httpx.get(f"{url}/items/{1 + i % 2}", headers={"Connection": "close"})
            assert answer.status_code == 200
        assert httpx.get(f"{url}/items/99").status_code == 404
        series = 'method="GET",path="/items/{item_id}",status="200"'
        counts = set()
        for _ in range(6):
            page = httpx.get(f"{url}/metrics", headers={"Connection": "close"}).text
            counts.add(sample(page, "api_requests_total", series))
            assert sample(page, "api_requests_total", series.replace("200", "404")) == 1
            pids |= set(
                re.findall(r'^process_cpu_seconds_total\{pid="(\d+)"\}', page, re.MULTILINE)
            )
        # 40 requests plus the first that found the server up, summed over both processes.
        assert counts == {41.0}
        assert len(pids) == 2, "both worker processes write into the shared folder"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
        stderr.close()
    lines = [
        json.loads(line)
        for line in (tmp_path / "stderr").read_text().splitlines()
        if line.startswith("{")
    ]
    access = [line for line in lines if line.get("route") == "/items/{item_id}"]
    assert len(access) == 42
    assert len({line["request_id"] for line in access}) == 42
    assert {line["pid"] for line in access} <= {int(p) for p in pids}


def test_the_readme_shows_the_example_app_as_it_is() -> None:
    readme = (EXAMPLE.parents[1] / "README.md").read_text()
    assert f"```python\n{(EXAMPLE / 'app.py').read_text()}```" in readme
