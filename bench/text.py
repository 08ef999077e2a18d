"""Texts in the benchmark: the ner model (spaCy's small English pipeline) through servekit.

Each request is one sentence, as ``POST /models/ner/predict`` takes it. With batching on,
concurrent sentences share one ``nlp.pipe`` call; with it off, each request is a call of its own:
both in the same run, at 1 and 64 clients. Beside them, the model's own CPU per text in-process
(the spacy runtime at batch 1 and 64), which says how much of a request's cost the model is,
and so what batching can save at most.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.images import _model_calls, runtime_cost
from bench.run import LUA, OFF, ON, Contender, Run, _run, cpu_seconds, free_port, started, wrk

SENTENCE = "Apple is looking at buying U.K. startup for $1 billion, said Tim Cook in London."
CLIENTS = (1, 64)
MODEL = "ner"


@dataclass
class TextRun:
    """One contender at one concurrency, with what its model calls were."""

    run: Run
    batch: float = math.nan
    """Mean texts per model call over the run."""
    model_us: float = math.nan
    """Model-call time per text over the run (wall, on the model's thread)."""


@dataclass
class Texts:
    """Everything the text part of the benchmark measured."""

    runs: list[TextRun]
    model_us: dict[int, float]
    """The model's own CPU per text in-process, by batch size."""


def model_cost(folder: Path, seconds: float) -> dict[int, float]:
    """CPU microseconds per text of the runtime's call (decode, nlp.pipe, encode) at batch 1 and 64."""
    from servekit.repository.loader import read_manifest
    from servekit.runtimes.registry import runtime_class

    model = read_manifest(folder)
    runtime = runtime_class(model.manifest.runtime)(model)
    runtime.setup()
    return runtime_cost(runtime, {"text": SENTENCE}, seconds)


def measure_all(work: Path, log: Path, seconds: float) -> Texts:
    """Train the ner example, then measure servekit with batching on and off on it."""
    from servekit.examples import train_examples

    repo = work / "text-models"
    [folder] = train_examples(repo, [MODEL])
    script = work / "ner.lua"
    script.write_text(LUA % json.dumps({"text": SENTENCE}))
    serve = [sys.executable, "-m", "servekit", "serve", "--allow-anonymous", "--models", str(repo)]
    path, env = f"/models/{MODEL}/predict", {"SERVEKIT_DATA_DIR": str(work / "text-data")}
    runs = []
    for contender in (
        Contender(ON, serve, path, "/readyz", env),
        Contender(OFF, [*serve, "--no-batching"], path, "/readyz", env),
    ):
        with started(contender, free_port(), log) as (url, pid):
            for clients in CLIENTS:
                wrk(url + path, script, clients, max(1.0, seconds / 4))  # warm-up, not counted
                calls, cpu = _model_calls(url, MODEL), cpu_seconds(pid)
                report = wrk(url + path, script, clients, seconds)
                cpu = cpu_seconds(pid) - cpu
                n, rows, spent = (
                    b - a for a, b in zip(calls, _model_calls(url, MODEL), strict=True)
                )
                found = TextRun(_run(contender, MODEL, clients, report, cpu))
                found.batch, found.model_us = rows / max(1, n), spent / max(1, rows) * 1e6
                runs.append(found)
                r = found.run
                print(
                    f"ner {contender.name:24} c={clients:<3} {r.rps:9,.0f} req/s  p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  batch {found.batch:5.1f}  bad {r.non2xx + r.errors}",
                    flush=True,
                )
    return Texts(runs, model_cost(folder.path, min(seconds, 2.0)))


def runs_of(found: Texts) -> list[Run]:
    """The HTTP runs, for the report's check that every answer was a 2xx."""
    return [t.run for t in found.runs]


def _by(found: Texts, contender: str, clients: int) -> TextRun:
    return next(
        t for t in found.runs if t.run.contender == contender and t.run.concurrency == clients
    )


def ratio(found: Texts) -> float:
    """Throughput at 64 clients, batching on over off."""
    return _by(found, ON, 64).run.rps / _by(found, OFF, 64).run.rps


def section(found: Texts, seconds: float) -> list[str]:
    """The report's section on texts."""
    lines = [
        "",
        "## Texts: the ner model (spaCy)",
        "",
        f"One sentence a request (`{SENTENCE}`), {seconds:g} s per run, the server on one core. "
        "Batching on: concurrent sentences share one `nlp.pipe` call; off: a call per request.",
        "",
        "| server | clients | req/s | p50 ms | p99 ms | texts per call | model-call wall us per text | server CPU us per request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in found.runs:
        r = t.run
        lines.append(
            f"| {r.contender} | {r.concurrency} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {t.batch:.1f} | {t.model_us:,.0f} | {r.cpu_us:,.0f} |"
        )
    one, many = found.model_us[1], found.model_us[64]
    on, off = _by(found, ON, 64), _by(found, OFF, 64)
    lines += [
        "",
        f"At 64 clients, batching gives **{ratio(found):.2f}x** the throughput of a call per request.",
        "",
        f"Where the time goes: the model itself (the spacy runtime in-process: `nlp.pipe` and the "
        f"answer) takes {one:,.0f} us of CPU per sentence at batch 1 and {many:,.0f} at batch 64, "
        f"so batching saves at most {one - many:,.0f} us of a request. The server spends "
        f"{off.run.cpu_us:,.0f} us of CPU per request without batching and {on.run.cpu_us:,.0f} "
        f"with it; of that, {off.run.cpu_us - one:,.0f} and {on.run.cpu_us - many:,.0f} us are "
        "HTTP, validation, the checks and the prediction log. The model's own saving accounts "
        f"for {off.run.cpu_us / (off.run.cpu_us - one + many):.2f}x; the rest is the serving "
        "path's cost per request, lower with batching (one thread hand-off and one model call "
        "per batch, not per request). Without batching, the model-call wall time per text at 64 "
        "clients is several times its CPU: the inference threads run calls at once on one core.",
    ]
    return lines


def targets(found: Texts) -> list[tuple[str, str, bool]]:
    """Batching must pay on the text model at 64 clients."""
    return [("ner: batching on > off at 64 clients", f"{ratio(found):.2f}x", ratio(found) > 1)]


def printed(found: Texts, seconds: float) -> str:
    """The section and its targets, for ``--text-only``."""
    rows = [f"| {n} | {v} | {'yes' if ok else '**no**'} |" for n, v, ok in targets(found)]
    return "\n".join(
        [*section(found, seconds), "", "| target | measured | met |", "|---|---|---|", *rows]
    )
