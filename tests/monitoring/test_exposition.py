"""Metrics summed over several processes, and what is left of a process that has gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from servekit.monitoring.exposition import MULTIPROC_ENV, Exposition, prepare_multiprocess_dir

WORKER = """
from servekit.monitoring.metrics import PREDICTIONS, QUEUE_DEPTH
PREDICTIONS.labels("iris", "1").inc({rows})
QUEUE_DEPTH.labels("iris", "1").set(5)
"""


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def test_counters_of_exited_processes_are_summed_and_their_live_gauges_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left over from an earlier run")
    monkeypatch.setenv(MULTIPROC_ENV, "")  # first, so that the variable is restored after the test
    prepare_multiprocess_dir(folder)
    assert os.environ[MULTIPROC_ENV] == str(folder)
    assert not (folder / "counter_1.db").exists()
    for rows in (600, 400):  # two worker processes that count predictions, then exit
        subprocess.run(
            [sys.executable, "-c", WORKER.format(rows=rows)],
            check=True,
            env={**_env(), MULTIPROC_ENV: str(folder)},
        )
    assert len(list(folder.glob("gauge_livesum_*.db"))) == 2

    page = Exposition().render().decode()

    assert samples(page, "servekit_predictions_total") == [
        ({"model": "iris", "version": "1"}, 1000.0)
    ]
    # The exited processes' queue depth is no longer counted, and their live files are gone.
    assert all(value == 0 for _, value in samples(page, "servekit_queue_depth"))
    assert not list(folder.glob("gauge_livesum_*.db"))
    assert samples(page, "process_cpu_seconds_total") == []


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != MULTIPROC_ENV}
