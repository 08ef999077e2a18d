"""The background chore runner: a chore under way is let finish on stop; the wait is not."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from servekit.storage import periodic
from servekit.storage.periodic import Periodic

log = logging.getLogger("test.periodic")


def test_stop_lets_a_chore_under_way_finish() -> None:
    done: list[str] = []

    async def chore() -> None:
        await asyncio.sleep(0.2)
        done.append("finished")

    async def main() -> None:
        runner = Periodic(chore, 60.0, name="chore", log=log)
        runner.start()
        await asyncio.sleep(0.05)
        await runner.stop()

    asyncio.run(main())
    assert done == ["finished"]


def test_stop_ends_the_wait_between_chores_at_once() -> None:
    runs: list[float] = []

    async def chore() -> None:
        runs.append(time.monotonic())

    async def main() -> float:
        runner = Periodic(chore, 60.0, name="chore", log=log)
        runner.start()
        await asyncio.sleep(0.05)
        began = time.monotonic()
        await runner.stop()
        return time.monotonic() - began

    took = asyncio.run(main())
    assert len(runs) == 1
    assert took < 5.0  # an interval of 60 s was not waited


def test_a_failing_chore_is_logged_and_run_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    third = asyncio.Event()

    async def chore() -> None:
        calls.append(1)
        if len(calls) == 3:
            third.set()
        raise OSError("disk gone")

    async def main() -> None:
        runner = Periodic(chore, 0.01, name="chore", log=log)
        runner.start()
        await third.wait()
        await runner.stop()

    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        asyncio.run(main())
    assert "chore failed: disk gone; it runs again in 0.01 s" in caplog.text


def test_a_chore_that_will_not_finish_is_cancelled_after_the_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(periodic, "STOP_WAIT_S", 0.1)
    cancelled: list[bool] = []

    async def chore() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        runner = Periodic(chore, 60.0, name="stuck chore", log=log)
        runner.start()
        await asyncio.sleep(0.01)
        await runner.stop()

    with caplog.at_level(logging.WARNING, logger="test.periodic"):
        asyncio.run(main())
    assert cancelled == [True]
    assert "stuck chore took over 0.1 s to finish: cancelled" in caplog.text


def test_it_can_be_started_again_on_another_loop() -> None:
    runs: list[int] = []

    async def chore() -> None:
        runs.append(1)

    runner = Periodic(chore, 60.0, name="chore", log=log)

    async def once() -> None:
        runner.start()
        await asyncio.sleep(0.01)
        await runner.stop()

    asyncio.run(once())
    asyncio.run(once())
    assert len(runs) == 2
