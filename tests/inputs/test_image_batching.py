"""Concurrent uploads share one model call, as rows of features do."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from prometheus_client import REGISTRY

from tests.inputs.conftest import ShadeClient, checker


def _batch_sizes() -> tuple[float, float]:
    labels = {"model": "shade", "version": "1"}
    count = REGISTRY.get_sample_value("servekit_batch_size_count", labels) or 0.0
    total = REGISTRY.get_sample_value("servekit_batch_size_sum", labels) or 0.0
    return count, total


def test_concurrent_uploads_are_batched_into_few_model_calls(shade_client: ShadeClient) -> None:
    client = shade_client(entrypoint="shade:SlowShade")
    before = _batch_sizes()

    def upload(i: int) -> int:
        files = {"file": (f"{i}.png", checker())}
        return client.post("/models/shade/predict/file", files=files).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(upload, range(8)))
    assert statuses == [200] * 8
    calls, rows = (after - first for after, first in zip(_batch_sizes(), before, strict=True))
    assert rows == 8
    assert calls < 8  # the uploads that came during the first 0.3 s call went as one batch
