"""An open-loop load generator: requests leave on a fixed schedule whether or not answers came back.

wrk is closed-loop (a client waits for its answer before sending again), so it cannot offer more
than the server accepts. Overload needs offered load that does not slow down when the server does.
Latency is measured from each request's scheduled time, so a slow server is not hidden.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What came back for one request."""

    status: int
    latency: float
    retry_after: bool


@dataclass
class Report:
    """Everything sent and received in one run."""

    offered_rate: float
    duration: float
    outcomes: list[Outcome] = field(default_factory=list)
    failed: int = 0
    """Requests with no HTTP answer (connection refused, reset, or no free connection)."""


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, float | None]:
    """One request and its answer: the status, and the Retry-After in seconds (None without one)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    await reader.readexactly(int(headers.get("content-length", "0")))
    retry_after = headers.get("retry-after")
    return status, None if retry_after is None else float(retry_after)


async def offer(
    host: str,
    port: int,
    path: str,
    body: bytes,
    *,
    rate: float,
    duration: float,
    max_connections: int = 1024,
) -> Report:
    """Send ``rate`` requests a second for ``duration`` seconds over a pool of keep-alive connections."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    report = Report(offered_rate=rate, duration=duration)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    opened = 0

    async def one(scheduled: float) -> None:
        nonlocal opened
        if idle:
            connection = idle.pop()
        elif opened < max_connections:
            opened += 1
            try:
                connection = await asyncio.open_connection(host, port)
            except OSError:
                opened -= 1
                report.failed += 1
                return
        else:
            report.failed += 1
            return
        try:
            status, retry_after = await exchange(*connection, request)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            report.failed += 1
            opened -= 1
            connection[1].close()
            return
        report.outcomes.append(
            Outcome(status, time.monotonic() - scheduled, retry_after is not None)
        )
        idle.append(connection)

    start = time.monotonic()
    tasks = []
    for i in range(int(rate * duration)):
        scheduled = start + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return report
