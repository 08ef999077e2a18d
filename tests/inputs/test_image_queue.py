"""Images in distributed mode: the prepared array travels to a real worker through real Redis."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import numpy as np

from servekit.inputs.base import JsonForm
from servekit.inputs.registry import codec_for
from servekit.storage.uploads import UploadStore
from tests.inputs.conftest import checker, png, write_shade
from tests.queue.test_queue import GUARD_S, api, deadline, fleet, manifest_of, settings


def test_image_rows_reach_a_worker_whole_and_come_back_in_order(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    repo = write_shade(tmp_path / "models")
    store = UploadStore(tmp_path / "uploads", max_total_bytes=10**9, max_age_s=None, interval_s=60)
    store.prepare()
    codec = codec_for(manifest_of(repo), max_rows=4, uploads=store)
    images = [checker(), png(np.zeros((8, 8))), png(np.full((8, 8), 255))]
    body = json.dumps({"instances": [{"image": base64.b64encode(i).decode()} for i in images]})

    async def scenario() -> None:
        rows = await codec.decode(JsonForm(body.encode()))
        again = codec.from_wire(codec.to_wire(rows))
        assert all(np.array_equal(a["image"], b["image"]) for a, b in zip(rows, again, strict=True))
        queue = settings(prefix)
        async with fleet(redis_url, queue, repo), api(redis_url, queue, repo) as executor:
            outputs = await executor.submit(rows, deadline=deadline())
        assert [o.prediction for o in outputs] == ["light", "dark", "light"]
        assert [o.extra and o.extra["shape"] for o in outputs] == [[1, 4, 4]] * 3
        assert [o.extra and o.extra["width"] for o in outputs] == [32, 8, 8]

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
