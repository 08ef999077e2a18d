"""The forecast example against a real server, and through the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.server import running_server


def test_the_forecast_example_is_served_and_printed_by_the_command_line(
    forecast_dir: Path, tmp_path: Path
) -> None:
    env = {"SERVEKIT_ALLOW_ANONYMOUS": "true"}
    with (
        running_server(forecast_dir, tmp_path, env=env) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        answer = client.post("/models/forecast/predict", json={"horizon": 7})
        assert answer.status_code == 200, answer.text
        week = answer.json()["predictions"][0]["prediction"]
        assert len(week) == 7
        assert all(p["lower"] < p["forecast"] < p["upper"] for p in week)
        command = [sys.executable, "-m", "servekit", "predict", "forecast", "-f", "horizon=2"]
        done = subprocess.run(
            [*command, "--url", server.url], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert "2026-07-01" in done.stdout
        assert "lower (90%)" in done.stdout
        assert f"{week[0]['forecast']:.6g}" in done.stdout
