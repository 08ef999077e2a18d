"""``servekit loadtest``: a real (tiny) sweep over deployments it starts, and its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image


def loadtest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVEKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "servekit", "loadtest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_sweep_starts_each_deployment_and_writes_tables_and_charts(
    redis_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    run = loadtest(
        "--model", "iris", "--model", "latency", "--users", "3",
        "--deployments", "batching,no-batching,workers-1",
        "--duration-s", "2", "--warmup-s", "0.5", "--redis-url", redis_url, "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cells = json.loads((out / "results.json").read_text())["cells"]
    assert {(c["deployment"], c["model"]) for c in cells} == {
        (d, m) for d in ("batching", "no-batching", "workers-1") for m in ("iris", "latency")
    }
    for cell in cells:
        assert cell["skipped"] is None, cell
        assert cell["requests"] > 0, cell
        assert cell["failures"] == 0, cell  # signed in: no 401
        assert cell["limit"], cell
        assert cell["cores"]["api"] > 0, cell
    by = {(c["deployment"], c["model"]): c for c in cells}
    assert by[("no-batching", "latency")]["rows_per_call"] == 1.0
    assert by[("workers-1", "iris")]["cores"]["workers"] > 0
    report = (out / "report.md").read_text()
    for section in (
        "## Machine",
        "## iris",
        "## latency",
        "| workers-1 | 3 |",
        "![latency-p95.png](latency-p95.png)",
    ):
        assert section in report
    for chart in (
        "iris-throughput.png",
        "iris-p95.png",
        "latency-throughput.png",
        "latency-p95.png",
    ):
        with Image.open(out / chart) as image:
            assert image.format == "PNG"
            assert image.size[0] > 300
    assert "report:" in run.stdout


def test_a_deployment_that_cannot_start_is_reported_not_run(tmp_path: Path) -> None:
    out = tmp_path / "report"
    run = loadtest(
        "--model", "iris", "--users", "1", "--deployments", "workers-1",
        "--duration-s", "1", "--warmup-s", "0", "--redis-url", "redis://127.0.0.1:1/0", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    [cell] = json.loads((out / "results.json").read_text())["cells"]
    assert "Redis at redis://127.0.0.1:1/0 is not reachable" in cell["skipped"]
    assert (
        "not run: Redis at redis://127.0.0.1:1/0 is not reachable"
        in (out / "report.md").read_text()
    )


def test_wrong_choices_are_refused_with_what_is_wrong(tmp_path: Path) -> None:
    for args, said in (
        (["--deployments", "gpu-farm"], "unknown deployment 'gpu-farm'"),
        (["--users", "0"], "--users must all be at least 1"),
        (["--users", "ten"], "--users takes whole numbers"),
        (["--model", "tulip"], "unknown model(s) tulip"),
    ):
        run = loadtest(*args, cwd=tmp_path)
        assert run.returncode != 0
        assert said in run.stdout + run.stderr, (args, run.stdout, run.stderr)
