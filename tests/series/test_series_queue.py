"""Series in distributed mode: each history travels to a real worker through real Redis, whole."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from servekit.inputs.base import JsonForm
from servekit.inputs.registry import codec_for
from servekit.repository.loader import Repository
from servekit.runtimes.base import Runtime
from servekit.runtimes.registry import runtime_class
from tests.queue.test_queue import GUARD_S, api, deadline, fleet, manifest_of, settings
from tests.series.conftest import history


def test_series_rows_reach_a_worker_whole_and_come_back_in_order(
    redis_url: str, prefix: str, forecast_dir: Path
) -> None:
    repo = forecast_dir
    codec = codec_for(manifest_of(repo), max_rows=4)
    bodies = [
        {"horizon": 2, "history": history(40, end="2026-11-30", scale=0.5)},
        {"horizon": 3},
        {"horizon": 1, "history": history(35, end="2026-12-31", scale=2)},
    ]

    async def scenario() -> None:
        rows = codec.decode_now(JsonForm(json.dumps({"instances": bodies}).encode()))
        assert codec.from_wire(codec.to_wire(rows)) == rows
        here = [out.prediction for out in _runtime(repo)(rows)]
        queue = settings(prefix)
        async with fleet(redis_url, queue, repo), api(redis_url, queue, repo) as executor:
            outputs = await executor.submit(rows, deadline=deadline())
        assert [o.prediction for o in outputs] == here
        assert [[p["date"] for p in o.prediction] for o in outputs] == [
            ["2026-12-01", "2026-12-02"],
            ["2026-07-01", "2026-07-02", "2026-07-03"],
            ["2027-01-01"],
        ]

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))


def _runtime(repo: Path) -> Runtime:
    """The model loaded here, to compare the workers' answers with."""
    [folder] = Repository.scan(repo).all()
    runtime = runtime_class(folder.manifest.runtime)(folder)
    runtime.setup()
    return runtime
