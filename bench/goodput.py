"""Overload with default settings: what a server still serves with 10x and 50x the clients it needs.

Capacity is what 64 closed-loop clients get (the benchmark's busiest level). Overload is 10x and
50x as many clients, of two kinds:

- clients that retry at once (wrk): each sends its next request as soon as it has an answer,
  a 503 included;
- clients that honour ``Retry-After``: after a 503 each waits what it says, then asks again.

Each answer is timed by its status (the wrk script matches answers to requests by the
``X-Request-ID`` servekit echoes), from the moment the request was written. The first second of
each run, while thousands of connections open, is not counted.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.openloop import exchange

CAPACITY_CLIENTS = 64
LEVELS = (10, 50)
MODELS = ("iris", "forest")
SETTLE_S = 1.0
"""The start of a run that is not counted: connections opening, the queue's rate being measured."""
BUCKET_S = 0.0001
"""Latencies are counted in buckets this wide."""
AT_ONCE, PATIENT = "retry at once (wrk)", "honour Retry-After"

# wrk's script: each request carries its own X-Request-ID, and the answer's echo of it says
# when its request was written. Latencies by status, in 0.1 ms buckets, after the first second.
STATUS_LUA = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } timespec;
int clock_gettime(int clk_id, timespec *tp);
]]
local ts = ffi.new("timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
local n = 0
local sent = {}
local first = now_us()
hist = {}
threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  n = n + 1
  local id = "b" .. n
  sent[id] = now_us()
  wrk.headers["X-Request-ID"] = id
  return wrk.format()
end
function response(status, headers, body)
  local id = headers["x-request-id"] or headers["X-Request-ID"]
  local t0 = id and sent[id]
  if t0 then
    sent[id] = nil
    if t0 - first >= %d then
      local key = status .. ":" .. math.floor((now_us() - t0) / 100)
      hist[key] = (hist[key] or 0) + 1
    end
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local parts = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("hist")) do table.insert(parts, string.format('"%%s": %%d', k, v)) end
  end
  io.write(string.format('{"duration_us": %%d, "errors": %%d, "hist": {%%s}}\\n',
    summary.duration, e.connect + e.read + e.write + e.timeout, table.concat(parts, ", ")))
end
"""


def status_script(body: dict[str, Any]) -> str:
    """The wrk script for one model's request body."""
    return STATUS_LUA % (json.dumps(body), int(SETTLE_S * 1e6))


@dataclass
class Tally:
    """Answers of one run by status: how many, and their latencies in buckets."""

    seconds: float
    buckets: dict[int, Counter[int]] = field(default_factory=dict)
    errors: int = 0
    """Requests without an HTTP answer (socket errors, timeouts)."""

    def add(self, status: int, latency: float) -> None:
        """Count one answer."""
        self.buckets.setdefault(status, Counter())[int(latency / BUCKET_S)] += 1

    def count(self, status: int) -> int:
        """Answers with this status."""
        return sum(self.buckets.get(status, Counter()).values())

    def rate(self, status: int) -> float:
        """Answers with this status per second."""
        return self.count(status) / self.seconds

    def percentile_ms(self, status: int, q: float) -> float:
        """The q-th percentile of this status's latencies, in ms (nan without any)."""
        counts = self.buckets.get(status)
        if not counts:
            return math.nan
        total, seen = sum(counts.values()), 0
        for bucket in sorted(counts):
            seen += counts[bucket]
            if seen >= q / 100 * total:
                return (bucket + 1) * BUCKET_S * 1000
        return math.nan  # pragma: no cover - the loop always reaches the total

    @property
    def other_statuses(self) -> list[int]:
        """Statuses other than 200 and 503."""
        return sorted(s for s in self.buckets if s not in (200, 503))


def wrk_tally(url: str, script: Path, clients: int, seconds: float, core: int) -> Tally:
    """Load ``url`` from ``clients`` wrk connections (retrying at once) and count by status."""
    command = [
        *("taskset", "-c", str(core), "wrk", "-t1", f"-c{clients}"),
        *(f"-d{max(1, round(seconds + SETTLE_S))}s", "--timeout", "30s", "-s", str(script), url),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    tally = Tally(seconds=report["duration_us"] / 1e6 - SETTLE_S, errors=report["errors"])
    for key, n in report["hist"].items():
        status, bucket = (int(x) for x in key.split(":"))
        tally.buckets.setdefault(status, Counter())[bucket] += n
    return tally


async def patient_tally(
    host: str, port: int, path: str, body: bytes, clients: int, seconds: float
) -> Tally:
    """``clients`` closed-loop clients that wait a 503's Retry-After before asking again."""
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    tally = Tally(seconds=seconds)
    loop = asyncio.get_running_loop()
    # Every connection is open before the clock starts, as wrk's are.
    connections = [await asyncio.open_connection(host, port) for _ in range(clients)]
    start = loop.time()
    counted_from, end = start + SETTLE_S, start + SETTLE_S + seconds

    async def client(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = connection
        while (sent := loop.time()) < end:
            try:
                status, retry_after = await exchange(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            if sent >= counted_from:
                tally.add(status, loop.time() - sent)
            if status == 503:
                await asyncio.sleep(retry_after or 0.0)
        writer.close()

    await asyncio.gather(*(client(c) for c in connections))
    return tally


def run_patient(
    host: str, port: int, path: str, body: bytes, clients: int, seconds: float
) -> Tally:
    """``patient_tally`` on its own event loop (uvloop's, as fast as Python's clients get)."""
    import uvloop

    return uvloop.run(patient_tally(host, port, path, body, clients, seconds))


@dataclass
class Overload:
    """One model at one level of overload, with one kind of client, and its capacity."""

    model: str
    clients: int
    kind: str
    tally: Tally
    capacity: Tally

    @property
    def capacity_rps(self) -> float:
        """Successful answers a second at capacity."""
        return self.capacity.rate(200)

    @property
    def goodput(self) -> float:
        """Successful answers a second, as a share of capacity."""
        return self.tally.rate(200) / self.capacity_rps


def targets(rows: list[Overload]) -> list[tuple[str, str, bool]]:
    """The issue's three targets for each row: goodput, refusal p99, accepted p99."""
    out = []
    for r in rows:
        where = f"{r.model}, {r.clients} clients that {r.kind.split(' (')[0]}"
        refused_p99 = r.tally.percentile_ms(503, 99)
        accepted_p99 = r.tally.percentile_ms(200, 99)
        bound = 2 * r.capacity.percentile_ms(200, 99)
        out += [
            (f"{where}: goodput >= 80% of capacity", f"{r.goodput:.1%}", r.goodput >= 0.8),
            (
                f"{where}: 503 p99 < 50 ms",
                "no 503" if math.isnan(refused_p99) else f"{refused_p99:.1f} ms",
                math.isnan(refused_p99) or refused_p99 < 50,
            ),
            (
                f"{where}: accepted p99 <= 2x p99 at capacity ({bound:.1f} ms)",
                f"{accepted_p99:.1f} ms",
                accepted_p99 <= bound,
            ),
        ]
    return out


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def section(rows: list[Overload], seconds: float) -> list[str]:
    """The results' section: one row per model, level and kind of client."""
    lines = [
        "## Overload with default settings",
        "",
        f"servekit as `servekit serve` starts it, nothing tuned. Capacity is what {CAPACITY_CLIENTS} closed-loop clients get; overload is {' and '.join(f'{n}x' for n in LEVELS)} as many, either retrying at once (wrk: its next request as soon as it has an answer) or honouring Retry-After (Python clients that wait what a 503 says). Each answer is timed by its status from the moment its request was written; {seconds:g} s counted per run after {SETTLE_S:g} s of connections opening. Goodput is successful answers a second against capacity.",
        "",
        "| model | clients | clients' retry | capacity req/s | p99 at capacity ms | goodput req/s | goodput | accepted p50 ms | accepted p99 ms | 503/s | 503 p50 ms | 503 p99 ms | other | no answer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r.tally
        other = ", ".join(f"{s}: {t.count(s)}" for s in t.other_statuses) or "-"
        lines.append(
            f"| {r.model} | {r.clients:,} | {r.kind} | {r.capacity_rps:,.0f} | {_ms(r.capacity.percentile_ms(200, 99))} | {t.rate(200):,.0f} | {r.goodput:.1%} | {_ms(t.percentile_ms(200, 50))} | {_ms(t.percentile_ms(200, 99))} | {t.rate(503):,.0f} | {_ms(t.percentile_ms(503, 50))} | {_ms(t.percentile_ms(503, 99))} | {other} | {t.errors} |"
        )
    lines += [
        "",
        "A refused connection is not read again for half to all of its Retry-After (1 to 3 s): a client that honours it never waits for that, and one that retries at once has its next request wait in the kernel meanwhile. So the 503 p99 of clients that retry at once measures that hold (and so does an accepted p99 that includes requests admitted after it), not the refusal itself, which is written as soon as the request's headers are read. Without the hold, N such clients each answered within 50 ms ask for N / 0.05 refusals a second, 20 times N: 12,800 a second for 640 clients and 64,000 for 3,200, at about 60 us of the server's one core each (77% of the core, and nearly four cores). No policy on one core gives those clients fast refusals and goodput both; this one keeps goodput and the accepted latency.",
        "",
    ]
    return lines
