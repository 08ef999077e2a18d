"""The report's targets and the part named as a cell's limit, from given numbers."""

from __future__ import annotations

import pytest

from servekit.loadtest.deployments import DeploymentError, parse
from servekit.loadtest.report import markdown, targets
from servekit.loadtest.sweep import QUICK, Cell
from servekit.loadtest.usage import limiting


def cell(deployment: str, model: str, users: int, rps: float, p95: float = 10.0) -> Cell:
    return Cell(deployment, model, users, requests=int(rps * 10), ok_rps=rps, rps=rps, p95_ms=p95)


def test_targets_are_ratios_of_cells_of_the_same_run() -> None:
    found = {
        t.what: t
        for t in targets(
            [
                cell("seed004-2", "digits", 50, 100.0, p95=500.0),
                cell("workers-2", "digits", 50, 600.0, p95=50.0),
                cell("batching", "latency", 100, 160.0),
                cell("no-batching", "latency", 100, 10.0),
                cell("workers-1", "latency", 100, 150.0),
                cell("workers-2", "latency", 100, 290.0),
                cell("workers-4", "latency", 100, 500.0),
                cell("batching", "iris", 64, 1000.0),
                cell("workers-1", "iris", 64, 550.0),
            ]
        )
    }
    throughput = found[
        "digits, 50 users: servekit (2 workers) / seed 004's design as written (2 workers), throughput"
    ]
    assert throughput.ratio == 6.0
    assert throughput.met
    assert found[
        "digits, 50 users: servekit (2 workers) / seed 004's design as written (2 workers), p95"
    ].met
    assert found["latency, 100 users: batching on / off"].ratio == 16.0
    assert found["latency, 100 users: 2 workers / 1"].met is True
    four = found["latency, 100 users: 4 workers / 1"]
    assert four.met is False
    assert round(four.ratio or 0, 2) == 3.33
    assert found["iris, 64 users: distributed (workers-1) / in-process"].met is False
    assert (
        "iris, 64 users: distributed (workers-2) / in-process" not in found
    )  # that cell did not run


def test_a_skipped_cell_counts_for_no_target_and_says_why() -> None:
    cells = [
        cell("workers-1", "latency", 100, 150.0),
        Cell("workers-2", "latency", 100, skipped="Redis at redis://x is not reachable"),
    ]
    assert targets(cells) == []
    text = markdown(cells, QUICK, {"CPU": "test"}, {})
    assert (
        "| workers-2 | 100 | — | — | — | — | — | — | not run: Redis at redis://x is not reachable |"
        in text
    )


def test_the_limit_is_the_part_nearest_its_capacity() -> None:
    one = {"api": 1, "workers": 2}
    assert limiting({"api": 0.3}, 0.4, 0.97, one) == "the model (busy 97% of the time)"
    assert limiting({"api": 0.95, "locust": 0.4}, 0.7, 0.3, one).startswith("the API's CPU (95%")
    # Two workers using 1.2 cores between them are 60% each: not saturated.
    assert not limiting({"workers": 1.2}, 0.7, 0.2, one).startswith("the workers'")
    assert limiting({"locust": 0.99}, 0.6, None, one).startswith("Locust's CPU")
    overlap = limiting({"api": 0.5}, 0.5, 3.5, one)
    assert overlap.startswith("the model (3.5 calls in progress at once")
    busy = limiting({"api": 0.6, "locust": 0.5}, 0.95, None, one)
    assert busy.startswith("the machine's")
    assert "other processes" in busy
    assert limiting({"api": 0.1}, 0.1, 0.1, one).startswith("the users")


def test_every_deployment_name_the_docs_give_is_understood() -> None:
    for name in (
        "batching",
        "no-batching",
        "workers-1",
        "workers-12",
        "seed004-2",
        "seed004-async-4",
        "url",
    ):
        assert parse(name) == name
    for wrong in ("workers-0", "seed004-", "seed004-async", "gpu"):
        with pytest.raises(DeploymentError, match="unknown deployment"):
            parse(wrong)
