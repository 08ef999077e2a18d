"""``locust -f loadtest/locustfile.py`` against a real server of the examples: no failures."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from servekit.examples import train_examples
from tests.e2e.server import running_server

ROOT = Path(__file__).resolve().parents[2]
NAMES = [
    "GET /",
    "POST iris: one row",
    "POST iris: 16 rows",
    "POST digits: upload",
    "POST ner: text",
    "POST forecast: horizon",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    train_examples(out, ["iris", "digits", "forecast", "ner"])
    return out


def locust(host: str, users: int, seconds: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """``locust -f loadtest/locustfile.py --headless`` from the repository, as a user runs it."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--headless"),
            *("-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host),
            "--only-summary",
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_user_class_runs_against_the_examples_with_no_failure(
    served: Path, tmp_path: Path
) -> None:
    with running_server(served, tmp_path) as server:
        run = locust(server.url, 12, 6, "--csv", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr[-3000:]  # Locust exits 1 when any request failed
    with (tmp_path / "run_stats.csv").open() as f:
        stats = {f"{r['Type']} {r['Name']}": r for r in csv.DictReader(f)}
    for name in NAMES:
        assert int(stats[name]["Request Count"]) > 0, name
        assert stats[name]["Failure Count"] == "0", name
    assert "does not serve" not in run.stderr


def test_a_model_that_is_not_served_stops_its_users_without_failures(tmp_path: Path) -> None:
    only_iris = tmp_path / "models"
    train_examples(only_iris, ["iris"])
    with running_server(only_iris, tmp_path) as server:
        run = locust(server.url, 3, 3, "IrisPredict", "NerText")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "NerText: the server does not serve 'ner', stopping" in run.stderr
