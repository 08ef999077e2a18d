"""servekit's memory under 64 uploads of a 5 MB picture at once, and after they stop.

The server's resident memory (VmRSS, all its threads) is read from /proc every 20 ms; its peak
is the kernel's own high-water mark (VmHWM), reset just before the load, so that no peak falls
between two samples. "Before" is the server after a warm-up with small uploads; "after" is read
1, 3 and 5 s after the load stops.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.run import Contender, Run, _run, cpu_seconds, free_port, started, wrk
from bench.upload_cost import BOUNDARY, multipart

CLIENTS = 64
SAMPLE_S = 0.02
AFTER_S = (1.0, 3.0, 5.0)
"""When RSS is read after the load; the target takes the last."""
SETTLE_S = 2.0
"""The idle wait between the warm-up and "before"."""
MAX_RISE_MB = 300
MAX_AFTER = 0.10
"""After the load, RSS within this share of before."""

# The same body every time: memory, not storage, is measured here (each upload is still
# received, hashed and written whole before its content is found kept already).
BIG_LUA = """
local f = assert(io.open("{BODY}", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary={BOUNDARY}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, "p50": %d, "p90": %d, "p99": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass
class Memory:
    """RSS before, during and after the large uploads, in kB, and how they were served."""

    image_bytes: int
    before_kb: int
    peak_kb: int
    after_kb: dict[float, int]
    """RSS this many seconds after the load stopped."""
    run: Run
    peak_exact: bool = True
    """Whether the peak is the kernel's high-water mark (else the highest sample)."""
    samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def cpu_us(self) -> float:
        """The server's CPU per large image."""
        return self.run.cpu_us

    @property
    def rise_mb(self) -> float:
        return (self.peak_kb - self.before_kb) / 1024

    @property
    def after(self) -> float:
        """RSS after the load (the last reading), against before."""
        return self.after_kb[AFTER_S[-1]] / self.before_kb - 1


def status_kb(pid: int, key: str) -> int:
    """One ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux 4.0 on); False where not allowed."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    return False


class Sampler(threading.Thread):
    """VmRSS every SAMPLE_S seconds until stopped: (monotonic time, kB)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.monotonic(), status_kb(self.pid, "VmRSS")))
            self.stopped.wait(SAMPLE_S)


def measure(
    contender: Contender, big: bytes, small_script: Path, work: Path, log: Path, seconds: float
) -> Memory:
    """servekit (batching on, default settings) under CLIENTS uploads of ``big`` at once."""
    body = work / "big.multipart"
    body.write_bytes(multipart(big, "noise.png"))
    script = work / "big.lua"
    script.write_text(BIG_LUA.replace("{BODY}", str(body)).replace("{BOUNDARY}", BOUNDARY))
    with started(contender, free_port(), log) as (url, pid):
        target = url + contender.path
        wrk(target, small_script, 4, 1)  # warm-up: every code path, with small files
        time.sleep(SETTLE_S)
        before = int(statistics.median(_readings(pid, 0.5)))
        exact = _reset_peak(pid)
        sampler = Sampler(pid)
        sampler.start()
        cpu = cpu_seconds(pid)
        report = wrk(target, script, CLIENTS, seconds)
        cpu = cpu_seconds(pid) - cpu
        stopped = time.monotonic()
        peak = status_kb(pid, "VmHWM") if exact else 0
        after: dict[float, int] = {}
        for wait in AFTER_S:
            time.sleep(max(0.0, stopped + wait - time.monotonic()))
            after[wait] = status_kb(pid, "VmRSS")
        sampler.stopped.set()
        sampler.join()
    samples = [(t - stopped, kb) for t, kb in sampler.samples]
    return Memory(
        image_bytes=len(big),
        before_kb=before,
        peak_kb=max(peak, *(kb for _, kb in samples)),
        after_kb=after,
        run=_run(contender, "digits, 5 MB", CLIENTS, report, cpu),
        peak_exact=exact,
        samples=samples,
    )


def _readings(pid: int, seconds: float) -> list[int]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(status_kb(pid, "VmRSS"))
        time.sleep(SAMPLE_S)
    return out


def line(m: Memory) -> str:
    """The memory run, as progress."""
    after = ", ".join(f"{kb / 1024:,.0f} MB at +{s:g} s" for s, kb in m.after_kb.items())
    return (
        f"digits  5 MB uploads c={CLIENTS}: {m.run.rps:.1f} images/s, RSS before"
        f" {m.before_kb / 1024:,.0f} MB, peak {m.peak_kb / 1024:,.0f} MB (+{m.rise_mb:,.0f}),"
        f" after {after}; bad {m.run.non2xx + m.run.errors}"
    )


def targets(m: Memory) -> list[tuple[str, str, bool]]:
    """The issue's two memory targets."""
    return [
        (
            f"{CLIENTS} uploads of 5 MB at once: server RSS rises < {MAX_RISE_MB} MB",
            f"+{m.rise_mb:,.0f} MB",
            m.rise_mb < MAX_RISE_MB and m.run.valid,
        ),
        (
            f"RSS {AFTER_S[-1]:g} s after that load within {MAX_AFTER:.0%} of before",
            f"{m.after:+.1%}",
            abs(m.after) <= MAX_AFTER,
        ),
    ]


def section(m: Memory, seconds: float) -> list[str]:
    """The memory table."""
    after = " | ".join(f"{kb / 1024:,.0f}" for kb in m.after_kb.values())
    r = m.run
    return [
        "### Memory: 5 MB uploads",
        "",
        f"servekit, batching on, default settings, under {CLIENTS} wrk connections each uploading a {m.image_bytes / 1e6:.1f} MB PNG of seeded RGB noise (the same file each time: memory, not storage, is measured; each upload is still received, hashed and written whole before its content is found kept) for {seconds:g} s. RSS is VmRSS of the server process from /proc; the peak is {'the kernel high-water mark (VmHWM, reset just before the load)' if m.peak_exact else 'the highest of the samples taken every 20 ms'}; before is the server after a warm-up with small uploads and {SETTLE_S:g} s idle.",
        "",
        "| images/s | p50 ms | p99 ms | CPU us/image | non-2xx | RSS before MB | peak MB | rise MB | "
        + " | ".join(f"after +{s:g} s MB" for s in AFTER_S)
        + " |",
        "|---|---|---|---|---|---|---|---|" + "---|" * len(AFTER_S),
        f"| {r.rps:.1f} | {r.p50_ms:,.0f} | {r.p99_ms:,.0f} | {r.cpu_us:,.0f} | {r.non2xx + r.errors} | {m.before_kb / 1024:,.0f} | {m.peak_kb / 1024:,.0f} | {m.rise_mb:+,.0f} | {after} |",
        "",
    ]
