"""Texts in distributed mode: each text travels to a real worker through real Redis, and back."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from servekit.inputs.base import JsonForm
from servekit.inputs.registry import codec_for
from tests.inputs.text_models import SENTENCE
from tests.queue.test_queue import GUARD_S, api, deadline, fleet, manifest_of, settings


def test_texts_reach_a_worker_whole_and_come_back_in_order(
    redis_url: str, prefix: str, rules_dir: Path
) -> None:
    codec = codec_for(manifest_of(rules_dir), max_rows=8)
    texts = [
        SENTENCE,
        "Ничего: nothing to find here, «ça va» — 東京.",
        "London, then Ada Lovelace.",
    ]
    body = json.dumps({"instances": [{"text": t} for t in texts]}).encode()

    async def scenario() -> None:
        rows = await codec.decode(JsonForm(body))
        assert codec.from_wire(codec.to_wire(rows)) == rows
        queue = settings(prefix)
        async with fleet(redis_url, queue, rules_dir), api(redis_url, queue, rules_dir) as executor:
            outputs = await executor.submit(rows, deadline=deadline())
        assert [o.prediction for o in outputs] == [["PERSON", "GPE"], [], ["GPE", "PERSON"]]
        extras = [o.extra or {} for o in outputs]
        assert extras[1]["anonymized_text"] == texts[1]  # every character came back as it went
        assert extras[2]["anonymized_text"] == "[GPE], then [PERSON]."

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
