"""Images against real processes: the digits example served, and distributed over killed workers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from servekit.queue.jobs import Keys
from tests.e2e.server import running_server
from tests.queue.processes import KillWhenHolding, start_worker

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "digits"
DIGITS = {"seven.png": "7", "three.png": "3", "zero.png": "0"}
UPLOAD = "/models/digits/predict/file"


def upload(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.post(UPLOAD, files={"file": (name, (SAMPLES / name).read_bytes())})
    assert response.status_code == 200, response.text
    row: dict[str, Any] = response.json()["predictions"][0]
    return row


def test_the_shipped_pictures_are_read_and_noise_is_warned_about(
    digits_dir: Path, tmp_path: Path
) -> None:
    with (
        running_server(digits_dir, tmp_path, env={"SERVEKIT_ALLOW_ANONYMOUS": "true"}) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for name, digit in DIGITS.items():
            row = upload(client, name)
            assert row["prediction"] == digit
            assert row["score"] > 0.9
            assert row["warnings"] == []
        noise = upload(client, "noise.png")
        kinds = {w["feature"] for w in noise["warnings"]}
        assert {"pixel_std", "confidence"} <= kinds, noise["warnings"]
        # The command line uploads too: a row per file, in order.
        files = [str(SAMPLES / name) for name in ("zero.png", "seven.png")]
        command = [sys.executable, "-m", "servekit", "predict", "digits", "--json"]
        command += [arg for f in files for arg in ("--file", f)]
        done = subprocess.run(
            [*command, "--url", server.url], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)["predictions"]
        assert [r["prediction"] for r in rows] == ["0", "7"]


async def _uploads(url: str, names: list[str], on_answer: Callable[[int], None]) -> list[Any]:
    slots = asyncio.Semaphore(16)
    answers: list[Any] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(name: str) -> None:
            async with slots:
                files = {"file": (name, (SAMPLES / name).read_bytes())}
                response = await client.post(UPLOAD, files=files)
                answers.append((name, response.status_code, response.json()))
                on_answer(len(answers))

        await asyncio.gather(*(one(n) for n in names))
    return answers


def test_kill_9_of_a_worker_during_an_upload_burst_loses_no_image(
    digits_dir: Path, tmp_path: Path, redis_url: str, prefix: str
) -> None:
    env = {
        "SERVEKIT_REDIS_URL": redis_url,
        "SERVEKIT_QUEUE__PREFIX": prefix,
        "SERVEKIT_QUEUE__CLAIM_AFTER_S": "1",
        "SERVEKIT_QUEUE__HEARTBEAT_S": "0.2",
        "SERVEKIT_ALLOW_ANONYMOUS": "true",
    }
    victim, survivor = (start_worker(digits_dir, tmp_path, env) for _ in range(2))
    kill_holding_jobs = KillWhenHolding(redis_url, Keys(prefix).jobs("digits", "1"), victim.pid, 50)

    names = [list(DIGITS)[i % 3] for i in range(600)]
    try:
        with running_server(digits_dir, tmp_path, env=env) as server:
            answers = asyncio.run(_uploads(server.url, names, kill_holding_jobs))
    finally:
        victim.stop()
        survivor.stop()
    assert kill_holding_jobs.killed, "the victim never held a job after the 50th answer"
    assert len(answers) == 600
    wrong = [
        a for a in answers if a[1] != 200 or a[2]["predictions"][0]["prediction"] != DIGITS[a[0]]
    ]
    assert not wrong, wrong[:3]
