"""Which executor each model gets: in this process (batched or not), or the Redis job queue.

The app chooses and hands the factory to serving, which never knows which one it has.
"""

from __future__ import annotations

from servekit.batching.batcher import Batcher
from servekit.config import Settings
from servekit.inputs.base import InputCodec
from servekit.queue.client import JobQueue, RedisExecutor
from servekit.repository.manifest import Manifest
from servekit.serving.executor import DirectExecutor, Executor, ModelCall
from servekit.serving.registry import ExecutorFactory


def in_process(settings: Settings) -> ExecutorFactory:
    """The adaptive batcher (or one call per request with batching off), bounded as configured."""

    def make(manifest: Manifest, call: ModelCall, codec: InputCodec) -> Executor:
        batching = manifest.batching
        max_queue_rows = batching.max_queue_rows or settings.limits.max_queue_rows
        max_queue_wait_ms = batching.max_queue_wait_ms or settings.limits.max_queue_wait_ms
        if settings.batching:
            return Batcher(
                manifest,
                call,
                max_queue_rows=max_queue_rows,
                max_queue_wait=max_queue_wait_ms / 1000,
                concurrency=batching.concurrency,
            )
        return DirectExecutor(call, max_queue_rows=max_queue_rows)

    return make


def distributed(queue: JobQueue) -> ExecutorFactory:
    """Each model's rows as jobs on its Redis stream, for ``servekit worker`` to run."""

    def make(manifest: Manifest, call: ModelCall, codec: InputCodec) -> Executor:
        return RedisExecutor(queue, manifest, codec)

    return make
