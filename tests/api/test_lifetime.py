"""until_disconnected: a client that leaves cancels its work; a server that stops is not a client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from servekit.api import lifetime
from servekit.api.lifetime import until_disconnected
from servekit.exceptions import ClientDisconnected


def receiver(disconnect_after: float | None) -> Any:
    async def receive() -> dict[str, Any]:
        if disconnect_after is None:
            await asyncio.Event().wait()  # the client stays
        else:
            await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    return receive


@pytest.fixture(autouse=True)
def watch_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lifetime, "WATCH_AFTER", 0.01)


def test_work_done_in_time_is_returned() -> None:
    async def main() -> str:
        async def work() -> str:
            await asyncio.sleep(0.05)  # past WATCH_AFTER: a watcher runs, and sees no disconnect
            return "answer"

        return await until_disconnected(work(), receiver(None))

    assert asyncio.run(main()) == "answer"


def test_a_client_that_leaves_cancels_the_work() -> None:
    cancelled = asyncio.Event()

    async def main() -> None:
        async def work() -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with pytest.raises(ClientDisconnected):
            await until_disconnected(work(), receiver(0.02))
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
        await asyncio.sleep(0.05)  # nothing cancels the request's task later

    asyncio.run(main())
    assert cancelled.is_set()


def test_a_server_that_cancels_the_request_is_not_a_disconnect() -> None:
    async def main() -> None:
        async def work() -> None:
            await asyncio.sleep(30)

        request = asyncio.ensure_future(until_disconnected(work(), receiver(None)))
        await asyncio.sleep(0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    asyncio.run(main())
