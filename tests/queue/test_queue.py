"""The Redis job queue end to end in one process: API-side executor, real Redis, in-process workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from servekit.config import QueueSettings
from servekit.exceptions import DeadlineExceeded, Overloaded, PredictionError, QueueUnavailable
from servekit.inputs.registry import codec_for
from servekit.queue.client import JobQueue, RedisExecutor
from servekit.queue.connection import connect, redacted
from servekit.queue.jobs import GROUP, Job, Keys, Reply, result_message
from servekit.queue.worker import Worker
from servekit.repository.loader import Repository
from servekit.repository.manifest import Manifest
from servekit.runtimes.base import RowOutput
from servekit.runtimes.registry import runtime_class
from servekit.serving.executor import ModelCall
from tests.e2e.server import free_port
from tests.slow import calls, pid_calls, slow_repo

GUARD_S = 20.0
"""A test that has not finished by then hangs (a hang detector, not a timing target)."""


def settings(prefix: str, **changes: Any) -> QueueSettings:
    return QueueSettings(prefix=prefix, **changes)


def manifest_of(repo: Path) -> Manifest:
    [folder] = Repository.scan(repo).all()
    return folder.manifest


@asynccontextmanager
async def fleet(
    url: str, queue: QueueSettings, repo: Path, n: int = 1
) -> AsyncIterator[list[Worker]]:
    """``n`` workers (each its own Redis client and model copy) working while the block runs."""
    pool = ThreadPoolExecutor(4)
    workers = []
    for _ in range(n):
        [folder] = Repository.scan(repo).all()
        runtime = runtime_class(folder.manifest.runtime)(folder)
        runtime.setup()
        workers.append(Worker(connect(url), url, queue, [ModelCall(runtime, pool)]))
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield workers
    finally:
        for w in workers:
            w.stopping.set()
        await asyncio.gather(*tasks)
        for w in workers:
            await w.redis.aclose()
        pool.shutdown()


@asynccontextmanager
async def api(url: str, queue: QueueSettings, repo: Path) -> AsyncIterator[RedisExecutor]:
    """The API side of one model: a started JobQueue and the model's executor."""
    job_queue = JobQueue(url, queue)
    await job_queue.start()
    manifest = manifest_of(repo)
    executor = RedisExecutor(job_queue, manifest, codec_for(manifest))
    try:
        yield executor
    finally:
        await job_queue.stop()


def busy_worker(redis_url: str, prefix: str, name: str = "echo", version: str = "1") -> None:
    """A worker that beats but takes nothing: the API's jobs wait in the stream."""
    with redis.Redis.from_url(redis_url) as r:
        r.zadd(Keys(prefix).model_workers(name, version), {"busy": time.time() + 3600})


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_a_job_travels_with_its_datetimes_and_its_deadline() -> None:
    manifest = Manifest.model_validate(
        {
            "name": "m",
            "runtime": "python",
            "entrypoint": "m:M",
            "task": "regression",
            "inputs": [{"name": "at", "type": "datetime"}, {"name": "x", "type": "float"}],
        }
    )
    when = datetime(2013, 7, 6, 17, 18, tzinfo=UTC)
    job = Job("j1", 1234.5, "p:replies:a", [{"at": when, "x": 1.5}])
    codec = codec_for(manifest)
    fields = {k.encode(): v.encode() for k, v in job.fields(codec).items()}
    assert Job.from_fields(fields, codec) == job
    reply = Reply.parse(result_message("j1", [RowOutput(3.0, {"a": 1.0}, None)]).encode())
    assert reply == Reply("j1", [RowOutput(3.0, {"a": 1.0}, None)], None)


def test_urls_in_messages_hide_the_password() -> None:
    assert redacted("redis://:s3cret@host:6379/0") == "redis://***@host:6379/0"
    assert redacted("redis://user:s3cret@host/0") == "redis://user:***@host/0"
    assert redacted("redis://host:6379") == "redis://host:6379"


def test_workers_answer_every_caller_with_its_own_rows(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    async def scenario() -> None:
        queue = settings(prefix)
        async with fleet(redis_url, queue, echo_dir, n=2), api(redis_url, queue, echo_dir) as ex:
            answers = await asyncio.gather(
                *(ex.submit([{"x": float(i)}], deadline=deadline()) for i in range(200))
            )
            assert [a[0].prediction for a in answers] == [2.0 * i for i in range(200)]
            # A request of 40 rows goes as 3 jobs of at most 16 and comes back in order.
            big = await ex.submit([{"x": float(i)} for i in range(40)], deadline=deadline())
            assert [o.prediction for o in big] == [2.0 * i for i in range(40)]
        assert max(len(rows) for _, rows in pid_calls(echo_dir, "echo")) <= 16
        assert len(pid_calls(echo_dir, "echo")) < 200  # rows were batched

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    # Nothing is left behind in Redis but the (empty) stream and its group: memory stays flat.
    with redis.Redis.from_url(redis_url) as r:
        assert [k.decode() for k in r.scan_iter(f"{prefix}:*")] == [Keys(prefix).jobs("echo", "1")]
        assert r.xlen(Keys(prefix).jobs("echo", "1")) == 0


def test_a_poison_job_is_dead_lettered_after_three_deliveries_and_the_others_succeed(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix, claim_after_s=0.2, heartbeat_s=0.05)

    async def scenario() -> None:
        async with fleet(redis_url, queue, echo_dir, n=2), api(redis_url, queue, echo_dir) as ex:
            poison = asyncio.create_task(ex.submit([{"x": -1.0}], deadline=deadline()))
            good = await asyncio.gather(
                *(ex.submit([{"x": float(i)}], deadline=deadline()) for i in range(30))
            )
            assert [g[0].prediction for g in good] == [2.0 * i for i in range(30)]
            with pytest.raises(PredictionError, match="dead-lettered") as caught:
                await poison
            assert "failed 3 deliveries" in str(caught.value)

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    with redis.Redis.from_url(redis_url) as r:
        [(_, dead)] = r.xrange(Keys(prefix).dead("echo", "1"))
        assert dead[b"deliveries"] == b"3"
        assert b"poison" in dead[b"error"]
        assert r.xlen(Keys(prefix).jobs("echo", "1")) == 0
    # Tried alone three times (once per delivery), never again.
    assert sum(1 for _, rows in pid_calls(echo_dir, "echo") if rows == [-1.0]) == 3


def test_a_job_past_its_deadline_is_skipped_never_run(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix)
    keys = Keys(prefix)
    expired = Job("late", time.time() - 1, keys.replies("nobody"), [{"x": 5.0}])
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(keys.jobs("echo", "1"), expired.fields(codec_for(manifest_of(echo_dir))))  # type: ignore[arg-type]
    before = sample(
        "servekit_worker_jobs_total", {"model": "echo", "version": "1", "outcome": "expired"}
    )

    async def scenario() -> None:
        async with fleet(redis_url, queue, echo_dir), api(redis_url, queue, echo_dir) as ex:
            [out] = await ex.submit([{"x": 1.0}], deadline=deadline())  # after the expired one
            assert out.prediction == 2.0

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert [rows for _, rows in pid_calls(echo_dir, "echo")] == [[1.0]]
    after = sample(
        "servekit_worker_jobs_total", {"model": "echo", "version": "1", "outcome": "expired"}
    )
    assert after == before + 1
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(keys.jobs("echo", "1")) == 0


def test_a_full_stream_refuses_at_once_and_a_passed_deadline_takes_the_job_back(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix, max_jobs=2)
    stream = Keys(prefix).jobs("echo", "1")

    busy_worker(redis_url, prefix)

    async def scenario() -> None:
        async with api(redis_url, queue, echo_dir) as ex:  # a busy worker: jobs stay queued
            waiting = [
                asyncio.create_task(ex.submit([{"x": 1.0}], deadline=deadline(1.0)))
                for _ in range(2)
            ]
            await asyncio.sleep(0.2)
            with pytest.raises(Overloaded, match="holds 2 jobs") as caught:
                await ex.submit([{"x": 1.0}], deadline=deadline())
            assert not isinstance(caught.value, QueueUnavailable)
            for task in waiting:
                with pytest.raises(DeadlineExceeded):
                    await task
            await asyncio.sleep(0.2)  # the discards are sent in the background

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    with redis.Redis.from_url(redis_url) as r:
        assert r.xlen(stream) == 0


def test_late_and_duplicate_results_are_dropped_by_job_id(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix)
    before = sample("servekit_queue_results_dropped_total")
    busy_worker(redis_url, prefix)

    async def scenario() -> None:
        async with api(redis_url, queue, echo_dir) as ex:
            task = asyncio.create_task(ex.submit([{"x": 1.0}], deadline=deadline()))
            await asyncio.sleep(0.2)
            r = ex.queue.redis
            [(_, fields)] = await r.xrange(ex.stream)
            job_id = fields[b"id"].decode()
            answer = result_message(job_id, [RowOutput(42.0)])
            await r.rpush(ex.queue.reply_to, answer, answer, result_message("unknown", []))
            [out] = await task
            assert out.prediction == 42.0
            await asyncio.sleep(0.3)

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert sample("servekit_queue_results_dropped_total") == before + 2


def test_an_unreachable_redis_gives_503_at_once_and_not_ready(prefix: str, echo_dir: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    async def scenario() -> None:
        async with api(url, settings(prefix), echo_dir) as ex:
            assert not ex.queue.available
            with pytest.raises(QueueUnavailable, match="unreachable"):
                await ex.submit([{"x": 1.0}], deadline=deadline())

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert sample("servekit_redis_up") == 0


def test_workers_join_again_when_redis_lost_its_data(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix)

    async def scenario() -> None:
        async with fleet(redis_url, queue, echo_dir), api(redis_url, queue, echo_dir) as ex:
            assert (await ex.submit([{"x": 1.0}], deadline=deadline()))[0].prediction == 2.0
            await ex.queue.redis.delete(ex.stream)  # as a restart without persistence would
            assert (await ex.submit([{"x": 2.0}], deadline=deadline()))[0].prediction == 4.0

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))


def test_a_long_batch_is_not_taken_over_while_its_worker_beats(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    repo = slow_repo(tmp_path / "models", 0.8, name="echo", max_batch_size=16)
    queue = settings(prefix, claim_after_s=0.2, heartbeat_s=0.05)
    before = sample("servekit_worker_reclaimed_total", {"model": "echo", "version": "1"})

    async def scenario() -> None:
        async with fleet(redis_url, queue, repo, n=2), api(redis_url, queue, repo) as ex:
            [out] = await ex.submit([{"x": 3.0}], deadline=deadline())
            assert out.prediction == 6.0

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert [rows for _, rows in pid_calls(repo, "echo")] == [[3.0]]
    assert sample("servekit_worker_reclaimed_total", {"model": "echo", "version": "1"}) == before


def test_the_api_sees_queue_depth_and_workers(redis_url: str, prefix: str, echo_dir: Path) -> None:
    queue = settings(prefix)
    busy_worker(redis_url, prefix)  # in the model's set only: no worker is counted

    async def scenario() -> None:
        async with api(redis_url, queue, echo_dir) as ex:
            task = asyncio.create_task(ex.submit([{"x": 1.0}], deadline=deadline()))
            await asyncio.sleep(0.2)
            assert await ex.queue.depth(ex.stream) == (1, 0)  # no group yet: all waiting
            await ex.observe()
            labels = {"model": "echo", "version": "1", "state": "waiting"}
            assert sample("servekit_queue_jobs", labels) == 1
            assert await ex.queue.workers() == 0
            async with fleet(redis_url, queue, echo_dir):
                assert (await task)[0].prediction == 2.0
                assert await ex.queue.workers() == 1
            assert await ex.queue.depth(ex.stream) == (0, 0)
            assert await ex.queue.workers() == 0  # a stopped worker leaves

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert sample("servekit_redis_up") == 1


def test_the_worker_command_says_what_it_needs(echo_dir: Path, redis_url: str) -> None:
    from typer.testing import CliRunner

    from servekit.cli import app

    runner = CliRunner()
    no_redis = runner.invoke(
        app, ["worker", "--models", str(echo_dir)], env={"SERVEKIT_REDIS_URL": None}
    )
    assert no_redis.exit_code == 2
    assert "SERVEKIT_REDIS_URL" in no_redis.output
    unknown = runner.invoke(
        app, ["worker", "--models", str(echo_dir), "--model", "iris", "--redis-url", redis_url]
    )
    assert unknown.exit_code == 2
    assert "no model named iris" in unknown.output
    assert "it has: echo" in unknown.output


def test_results_nobody_reads_expire(redis_url: str, prefix: str, echo_dir: Path) -> None:
    queue = settings(prefix, result_ttl_s=30)
    keys = Keys(prefix)
    orphan = Job("orphan", time.time() + 10, keys.replies("gone"), [{"x": 1.0}])
    with redis.Redis.from_url(redis_url) as r:
        r.xadd(keys.jobs("echo", "1"), orphan.fields(codec_for(manifest_of(echo_dir))))  # type: ignore[arg-type]

    async def scenario() -> None:
        async with fleet(redis_url, queue, echo_dir) as [worker]:
            for _ in range(500):  # until the worker has answered (at most 10 s)
                if await worker.redis.exists(keys.replies("gone")):
                    break
                await asyncio.sleep(0.02)

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    with redis.Redis.from_url(redis_url) as r:
        assert r.llen(keys.replies("gone")) == 1
        assert 0 < r.ttl(keys.replies("gone")) <= 30


def test_consumers_of_workers_long_gone_are_pruned(
    redis_url: str, prefix: str, echo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from servekit.queue import worker

    monkeypatch.setattr(worker, "_PRUNE_IDLE_S", 0.1)
    stream = Keys(prefix).jobs("echo", "1")
    with redis.Redis.from_url(redis_url) as r:
        r.xgroup_create(stream, "workers", id="0", mkstream=True)
        r.xgroup_createconsumer(stream, "workers", "ghost")
    time.sleep(0.2)

    async def scenario() -> None:
        async with fleet(redis_url, settings(prefix), echo_dir) as [w]:
            await asyncio.sleep(0.3)
            names = {c["name"].decode() for c in await w.redis.xinfo_consumers(stream, "workers")}
            assert "ghost" not in names

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))


def test_a_model_no_worker_serves_is_refused_at_once_until_one_comes(
    redis_url: str, prefix: str, echo_dir: Path
) -> None:
    queue = settings(prefix, heartbeat_s=0.1)
    before = sample(
        "servekit_rejections_total", {"model": "echo", "version": "1", "reason": "no_worker"}
    )

    async def scenario() -> None:
        async with api(redis_url, queue, echo_dir) as ex:
            with pytest.raises(Overloaded, match="no worker serves echo") as caught:
                await ex.submit([{"x": 1.0}], deadline=deadline(30))  # not a 30 s wait
            assert caught.value.retry_after >= 1
            assert await ex.queue.redis.xlen(ex.stream) == 0  # nothing was queued
            async with fleet(redis_url, queue, echo_dir):
                for _ in range(100):  # its first heartbeat
                    if await ex.queue.has_worker("echo", "1"):
                        break
                    await asyncio.sleep(0.02)
                assert (await ex.submit([{"x": 1.0}], deadline=deadline()))[0].prediction == 2.0
            await asyncio.sleep(0.5)  # the stopped worker's last heartbeat is old now
            assert not await ex.queue.has_worker("echo", "1")

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    after = sample(
        "servekit_rejections_total", {"model": "echo", "version": "1", "reason": "no_worker"}
    )
    assert after == before + 1


def test_a_batch_that_waited_for_the_model_takes_the_jobs_that_came_meanwhile(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # One worker, a model of 1 s a call: x=0 runs; x=1 is read by the worker's other loop, which
    # waits for the model; x=2..6 come while it waits. They go in x=1's call, not in a third.
    repo = slow_repo(tmp_path / "models", 1.0, name="echo", max_batch_size=16)
    queue = settings(prefix)
    keys = Keys(prefix)

    async def until(done: Callable[[], Awaitable[bool]]) -> None:
        while not await done():  # noqa: ASYNC110  (Redis and a file: nothing to wait on)
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        async with fleet(redis_url, queue, repo), api(redis_url, queue, repo) as ex:
            redis_ = ex.queue.redis

            async def delivered(n: int) -> bool:
                info: Any = await redis_.xpending(keys.jobs("echo", "1"), GROUP)
                return int(info["pending"]) >= n

            async def started() -> bool:
                return calls(repo, "echo") == [[0.0]]

            first = asyncio.create_task(ex.submit([{"x": 0.0}], deadline=deadline()))
            await until(started)
            second = asyncio.create_task(ex.submit([{"x": 1.0}], deadline=deadline()))
            await until(lambda: delivered(2))
            rest = [
                asyncio.create_task(ex.submit([{"x": float(i)}], deadline=deadline()))
                for i in range(2, 7)
            ]
            answers = await asyncio.gather(first, second, *rest)
            assert [a[0].prediction for a in answers] == [2.0 * i for i in range(7)]

    asyncio.run(asyncio.wait_for(scenario(), GUARD_S))
    assert calls(repo, "echo") == [[0.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]
