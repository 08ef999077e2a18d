"""Image uploads in the benchmark: the digits model through servekit and through the tutorials' server.

Each upload is a multipart POST of one PNG, as ``curl -F file=@seven.png`` sends it. The wrk
script rotates the three shipped samples (seven, three and zero: 64x64 grey) and gives every
upload a text chunk of its own, so that each is another file with the same pixels: servekit
stores each one anew, as it would distinct photos, instead of finding its content kept already
(a cheaper path). Memory (64 uploads of a 5 MB picture at once) is in ``image_memory.py``, the
upload path's cost stage by stage in ``upload_cost.py``.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import image_memory, upload_cost
from bench.logcost import core_busy
from bench.run import (
    OFF,
    ON,
    SERVER_CORE,
    Contender,
    Pairs,
    Run,
    _run,
    cpu_seconds,
    free_port,
    paired,
    started,
    wrk,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [ROOT / "examples" / "digits" / f"{name}.png" for name in ("seven", "three", "zero")]
TUTORIAL = "tutorial FastAPI (UploadFile)"
CLIENTS = (1, 64)
BIG_BYTES = 5_000_000
MAX_OTHERS = 0.05
"""A run during which other processes used more of the server's core than this is run again."""
TRIES = 3
TICK = os.sysconf("SC_CLK_TCK")

UPLOAD_LUA = Path(__file__).with_name("upload.lua")
"""The wrk script, with ``{FILES}`` and ``{BOUNDARY}`` to fill in."""


@dataclass
class Measured:
    """One contender at one concurrency, with what else used the server's core meanwhile."""

    run: Run
    others: float
    """Share of the server's core that other processes used during the run."""
    kernel_us: float = math.nan
    """The kernel's part of the server's CPU per image (system calls: sockets, files)."""
    batch: float = math.nan
    """servekit's mean rows per model call over the run."""
    model_us: float = math.nan
    """servekit's model-call time per image over the run (wall, on the model's thread)."""


@dataclass
class Images:
    """Everything the image part of the benchmark measured."""

    runs: list[Measured]
    latency: Pairs
    memory: image_memory.Memory
    costs: list[upload_cost.ImageCost]
    model_us: dict[int, float]
    """The model's own CPU per image in-process (servekit's torch runtime), by batch size."""


def model_cost(model: Path, seconds: float) -> dict[int, float]:
    """CPU microseconds per image of the runtime's call (decode, predict, encode) at batch 1 and 64."""
    import numpy as np

    from servekit.repository.loader import read_manifest
    from servekit.runtimes.registry import runtime_class

    folder = read_manifest(model)
    runtime = runtime_class(folder.manifest.runtime)(folder)
    runtime.setup()
    image = np.random.default_rng(0).random((1, 8, 8), dtype=np.float32)
    return runtime_cost(runtime, {"image": image}, seconds)


def runtime_cost(runtime: Any, row: dict[str, Any], seconds: float) -> dict[int, float]:
    """CPU microseconds per row of a loaded runtime's call on copies of ``row``, at batch 1 and 64."""
    out = {}
    for size in (1, 64):
        rows = [row] * size
        runtime(rows)  # warm-up
        calls, start = 0, time.process_time()
        while time.process_time() - start < seconds:
            runtime(rows)
            calls += 1
        out[size] = (time.process_time() - start) / (calls * size) * 1e6
    return out


def upload_script(path: Path) -> Path:
    """Write the wrk script of single-image uploads."""
    files = "{" + ", ".join(f'"{p}"' for p in SAMPLES) + "}"
    script = UPLOAD_LUA.read_text().replace("{FILES}", files)
    path.write_text(script.replace("{BOUNDARY}", upload_cost.BOUNDARY))
    return path


def contenders(model: Path, data: Path) -> list[Contender]:
    """The tutorials' server, and servekit with batching on and off."""
    python = sys.executable
    serve = [python, "-m", "servekit", "serve", "--allow-anonymous", "--models", str(model.parent)]
    uvicorn = [python, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]
    path, env = f"/models/{model.name}/predict/file", {"SERVEKIT_DATA_DIR": str(data)}
    return [
        Contender(
            TUTORIAL,
            [*uvicorn, "bench.image_baseline:app"],
            "/predict",
            "/docs",
            {"BENCH_MODEL": str(model)},
        ),
        Contender(ON, serve, path, "/readyz", env),
        Contender(OFF, [*serve, "--no-batching"], path, "/readyz", env),
    ]


def _model_calls(url: str, model: str) -> tuple[float, float, float]:
    """servekit's model calls so far, the rows in them and the seconds they took (/metrics)."""
    text = httpx.get(url + "/metrics", timeout=5).text

    def value(name: str) -> float:
        found = re.search(rf'^{name}{{model="{model}",version="1"}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    return (
        value("servekit_batch_size_count"),
        value("servekit_batch_size_sum"),
        value("servekit_inference_seconds_sum"),
    )


def kernel_seconds(pid: int) -> float:
    """The kernel's part of a process's CPU time so far (stime), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / TICK


def measure(
    contender: Contender, url: str, pid: int, script: Path, clients: int, seconds: float
) -> Measured:
    """A warm-up, then the least disturbed of up to ``TRIES`` runs (the first quiet one)."""
    target = url + contender.path
    wrk(target, script, clients, max(1.0, seconds / 4))  # warm-up, not counted
    best: Measured | None = None
    for _ in range(TRIES):
        calls = _model_calls(url, "digits") if contender.name != TUTORIAL else (0, 0, 0)
        cpu, kernel = cpu_seconds(pid), kernel_seconds(pid)
        busy, began = core_busy(SERVER_CORE), time.monotonic()
        report = wrk(target, script, clients, seconds)
        cpu, kernel = cpu_seconds(pid) - cpu, kernel_seconds(pid) - kernel
        others = max(0.0, core_busy(SERVER_CORE) - busy - cpu) / (time.monotonic() - began)
        found = Measured(_run(contender, "digits", clients, report, cpu), others)
        found.kernel_us = kernel / max(1, report["requests"]) * 1e6
        if contender.name != TUTORIAL:
            after = _model_calls(url, "digits")
            n, rows, spent = (b - a for a, b in zip(calls, after, strict=True))
            found.batch, found.model_us = rows / max(1, n), spent / max(1, rows) * 1e6
        if best is None or found.others < best.others:
            best = found
        if found.others <= MAX_OTHERS:
            break
        print(f"  (other processes used {others:.0%} of core {SERVER_CORE}: again)", flush=True)
    assert best is not None
    return best


def measure_all(work: Path, log: Path, seconds: float, quick: bool) -> Images:
    """Train digits, then throughput, latency, memory and the upload path's cost per stage."""
    from servekit.examples import train_examples

    print("training digits", flush=True)
    # Its own repository: servekit serves every model in the one it is given.
    model = train_examples(work / "image-models", ["digits"])[0].path
    script = upload_script(work / "upload.lua")
    runs: list[Measured] = []
    kinds = contenders(model, work / "data" / "digits")
    for contender in kinds:
        with started(contender, free_port(), log) as (url, pid):
            for clients in CLIENTS:
                runs.append(measure(contender, url, pid, script, clients, seconds))
                print(line(runs[-1]), flush=True)
    # One client's p50, batching on against off: in turns, five pairs, as the main comparisons.
    latency = paired(kinds[1], kinds[2], "digits", script, 1, log, seconds=min(seconds, 4.0))
    print(
        "p50 at 1 client, on / off: "
        + "; ".join(f"{a.p50_ms:.2f} / {b.p50_ms:.2f} ms" for a, b in latency.runs),
        flush=True,
    )
    big = upload_cost.noise_png(BIG_BYTES)
    memory = image_memory.measure(kinds[1], big, script, work, log, seconds)
    print(image_memory.line(memory), flush=True)
    print("upload path, stage by stage (in-process)", flush=True)
    costs = upload_cost.costs(SAMPLES[0], big, model, work / "costs", quick)
    own = model_cost(model, 0.5 if quick else 2.0)
    return Images(runs=runs, latency=latency, memory=memory, costs=costs, model_us=own)


def runs_of(found: Images) -> list[Run]:
    """Every HTTP run of the image part (for the count of invalid runs)."""
    paired_runs = [r for pair in found.latency.runs for r in pair]
    return [*(m.run for m in found.runs), *paired_runs, found.memory.run]


def line(m: Measured) -> str:
    """One run, as progress."""
    r = m.run
    return (
        f"digits  {r.contender:30} c={r.concurrency:<3} {r.rps:7,.0f} images/s  p50 {r.p50_ms:7.2f}"
        f" ms  p99 {r.p99_ms:7.2f} ms  {r.cpu_us:6.0f} us CPU/image ({m.kernel_us:4.0f} kernel)"
        f"  bad {r.non2xx + r.errors}"
        f"  others {m.others:.0%}"
    )


def _by(found: Images, contender: str, clients: int) -> Measured:
    return next(
        m for m in found.runs if (m.run.contender, m.run.concurrency) == (contender, clients)
    )


def targets(found: Images) -> list[tuple[str, str, bool]]:
    """The issue's image targets: throughput against the tutorial, p50 at one client, memory."""
    ratio = _by(found, ON, 64).run.rps / _by(found, TUTORIAL, 64).run.rps
    delta = found.latency.median(lambda a, b: a.p50_ms - b.p50_ms)
    return [
        (
            "digits uploads, 64 clients: batching on >= 5x the tutorial server's images/s",
            f"{ratio:.2f}x",
            ratio >= 5,
        ),
        (
            "digits uploads, 1 client: p50 batching on within 1 ms of off",
            f"{delta:+.3f} ms",
            delta <= 1.0,
        ),
        *image_memory.targets(found.memory),
    ]


def section(found: Images, seconds: float) -> list[str]:
    """The results' image section: the table, the latency pairs, memory, the cost per stage."""
    lines = [
        "## Image uploads",
        "",
        f"The digits model (a small PyTorch CNN on 8x8 grey images, `torch` runtime), one PNG per request as a multipart upload (`POST /models/digits/predict/file`). wrk rotates the three shipped samples (64x64 grey, about 240 bytes) and gives each upload a PNG text chunk of its own: every upload is another file with the same pixels, so servekit stores each one anew, as it would distinct photos. The tutorial server (`bench/image_baseline.py`) takes FastAPI's `UploadFile`, prepares the image as servekit does (grey, 8x8 box resize, /255) and calls the same exported program (`torch.export.load(...).module()`) once per request in a sync route. Each server alone on core 0, {seconds:g} s per run after a warm-up; a run during which other processes used more than {MAX_OTHERS:.0%} of core 0 is run again (up to {TRIES} times). CPU per image is the server's (all its threads, from /proc) over the run.",
        "",
        "| clients | server | images/s | p50 ms | p90 ms | p99 ms | CPU us/image | of which kernel | rows per model call | model call us/image | others on core 0 | non-2xx | vs tutorial |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in found.runs:
        r = m.run
        base = _by(found, TUTORIAL, r.concurrency).run.rps
        nan = math.isnan(m.batch)
        lines.append(
            f"| {r.concurrency} | {r.contender} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.cpu_us:,.0f} | {m.kernel_us:,.0f} | {'-' if nan else f'{m.batch:.1f}'} | {'-' if nan else f'{m.model_us:,.0f}'} | {m.others:.1%} | {r.non2xx + r.errors} | {r.rps / base:.2f}x |"
        )
    pairs = "; ".join(f"{a.p50_ms:.2f} / {b.p50_ms:.2f}" for a, b in found.latency.runs)
    delta = found.latency.median(lambda a, b: a.p50_ms - b.p50_ms)
    lines += [
        "",
        f"One client, p50 of batching on / off, measured in turns ({len(found.latency.runs)} pairs, each alternating which goes first): {pairs} ms; median difference {delta:+.3f} ms.",
        "",
        _bound(found),
        "",
        *image_memory.section(found.memory, seconds),
        *upload_cost.section(found.costs, _by(found, ON, 64).run.cpu_us, found.memory.cpu_us),
    ]
    return lines


def _bound(found: Images) -> str:
    """What batching can do for this model at most, from the numbers measured."""
    one, many = found.model_us[1], found.model_us[64]
    tutorial = _by(found, TUTORIAL, 64).run.cpu_us
    path = sum(c.us[upload_cost.FRONT].us + c.us[upload_cost.CODEC].us for c in found.costs[:1])
    return f"The model itself (servekit's torch runtime in-process: stack, call, top labels) takes {one:,.0f} us of CPU per image at batch 1 and {many:,.0f} at batch 64: batching saves at most {one - many:,.0f} us of the tutorial server's {tutorial:,.0f} us per image at 64 clients, so a server that cost what the tutorial does but batched its model calls perfectly would reach {tutorial / (tutorial - one + many):.2f}x of it. 5x would leave {tutorial / 5:,.0f} us per image for everything, HTTP included; servekit's upload path alone (front and codec, in-process, below) takes {path:,.0f}. This model is bound by HTTP and the upload, not by its calls: batching shows on a model whose call costs more than its request (the fixed-cost model of the main table)."


def printed(found: Images, seconds: float) -> str:
    """The section and its targets, for ``--images-only``."""
    rows = [f"| {n} | {v} | {'yes' if ok else '**no**'} |" for n, v, ok in targets(found)]
    table = ["| target | measured | met |", "|---|---|---|", *rows, ""]
    return "\n".join([*section(found, seconds), "", *table])
