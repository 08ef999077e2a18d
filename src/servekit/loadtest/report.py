"""The sweep's report: Markdown tables per model, PNG charts, and the targets as ratios.

Written to a folder: ``report.md``, ``results.json`` (every cell's numbers) and two charts per
model (``<model>-throughput.png``, ``<model>-p95.png``), made with matplotlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from servekit.loadtest.sweep import Cell, Plan


@dataclass(frozen=True)
class Target:
    """A target of the load-test issue, as a ratio of two cells of one run."""

    what: str
    ratio: float | None
    goal: str
    met: bool | None
    detail: str


def _find(cells: list[Cell], deployment: str, model: str, users: int) -> Cell | None:
    for cell in cells:
        if (cell.deployment, cell.model, cell.users) == (
            deployment,
            model,
            users,
        ) and not cell.skipped:
            return cell
    return None


def targets(cells: list[Cell]) -> list[Target]:
    """Each target whose two cells ran."""
    found: list[Target] = []

    def ratio(
        what: str,
        goal: float,
        top: Cell | None,
        bottom: Cell | None,
        *,
        lower: bool = False,
        p95: bool = False,
    ) -> None:
        if top is None or bottom is None:
            return
        a, b = (top.p95_ms, bottom.p95_ms) if p95 else (top.ok_rps, bottom.ok_rps)
        value = a / b if b else None
        met = None if value is None else (value <= goal if lower else value >= goal)
        unit = "p95" if p95 else "successful requests/s"
        detail = f"{unit}: {a:,.1f} against {b:,.1f}"
        found.append(Target(what, value, f"{'≤' if lower else '≥'} {goal:g}x", met, detail))

    ours = _find(cells, "workers-2", "digits", 50)
    for seed, how in (("seed004-2", "as written"), ("seed004-async-2", "awaiting")):
        theirs = _find(cells, seed, "digits", 50)
        versus = f"digits, 50 users: servekit (2 workers) / seed 004's design {how} (2 workers)"
        ratio(f"{versus}, throughput", 5, ours, theirs)
        ratio(f"{versus}, p95", 0.2, ours, theirs, lower=True, p95=True)
    for model in sorted({c.model for c in cells}):
        goal = 10.0 if model == "latency" else 1.0
        ratio(
            f"{model}, 100 users: batching on / off",
            goal,
            _find(cells, "batching", model, 100),
            _find(cells, "no-batching", model, 100),
        )
    one = _find(cells, "workers-1", "latency", 100)
    ratio("latency, 100 users: 2 workers / 1", 1.8, _find(cells, "workers-2", "latency", 100), one)
    ratio("latency, 100 users: 4 workers / 1", 3.4, _find(cells, "workers-4", "latency", 100), one)
    for workers in ("workers-1", "workers-2"):
        ratio(
            f"iris, 64 users: distributed ({workers}) / in-process",
            0.6,
            _find(cells, workers, "iris", 64),
            _find(cells, "batching", "iris", 64),
        )
    return found


def charts(cells: list[Cell], out: Path) -> dict[str, list[str]]:
    """Two PNGs per model: successful requests/s and p95 against users, a line per deployment."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made: dict[str, list[str]] = {}
    for model in _models(cells):
        mine = [c for c in cells if c.model == model and not c.skipped]
        for key, label, suffix in (
            ("ok_rps", "successful requests/s", "throughput"),
            ("p95_ms", "p95 latency (ms)", "p95"),
        ):
            figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=100)
            for deployment in dict.fromkeys(c.deployment for c in mine):
                points = sorted(
                    (c.users, getattr(c, key)) for c in mine if c.deployment == deployment
                )
                axes.plot(
                    [u for u, _ in points], [v for _, v in points], marker="o", label=deployment
                )
            axes.set_xlabel("users")
            axes.set_ylabel(label)
            axes.set_title(f"{model}: {label} against users")
            axes.grid(alpha=0.3)
            axes.legend()
            if suffix == "p95":
                axes.set_yscale("log")
            name = f"{model}-{suffix}.png"
            figure.tight_layout()
            figure.savefig(out / name)
            plt.close(figure)
            made.setdefault(model, []).append(name)
    return made


def _models(cells: Iterable[Cell]) -> list[str]:
    return list(dict.fromkeys(c.model for c in cells))


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def markdown(
    cells: list[Cell],
    plan: Plan,
    machine: dict[str, str],
    images: dict[str, list[str]],
    *,
    notes: str = "",
) -> str:
    """The report's text."""
    lines = ["# Load test", "", notes.strip(), "", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in machine.items()]
    lines += [
        "",
        "## How it was run",
        "",
        f"Each cell: Locust users (a closed loop: each sends its next request when its answer "
        f"comes) started at once, {plan.warmup_s:g} s of warm-up, then {plan.duration_s:g} s "
        "measured. Throughput counts successful answers only. What limited a cell is read "
        "from the processes' CPU, Redis's `INFO cpu` and the server's `/monitor/snapshot` "
        "(time in model calls, rows per call) over the measured window.",
        "",
    ]
    found = targets(cells)
    if found:
        lines += [
            "## Targets",
            "",
            "| target | ratio | goal | met | from |",
            "|---|---|---|---|---|",
        ]
        for t in found:
            met = "—" if t.met is None else ("yes" if t.met else "**no**")
            value = "—" if t.ratio is None else f"{t.ratio:.2f}x"
            lines.append(f"| {t.what} | {value} | {t.goal} | {met} | {t.detail} |")
        lines.append("")
    for model in _models(cells):
        lines += [f"## {model}", ""]
        lines += [
            "| deployment | users | requests/s | p50 ms | p95 ms | p99 ms | failures | rows per call | limited by |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in (c for c in cells if c.model == model):
            if c.skipped:
                lines.append(
                    f"| {c.deployment} | {c.users} | — | — | — | — | — | — | not run: {c.skipped} |"
                )
                continue
            rows = "—" if c.rows_per_call is None else f"{c.rows_per_call:.1f}"
            failed = (
                f"{c.failures} ({c.failures / c.requests:.1%})"
                if c.requests and c.failures
                else str(c.failures)
            )
            lines.append(
                f"| {c.deployment} | {c.users} | {c.ok_rps:,.1f} | {_ms(c.p50_ms)} | {_ms(c.p95_ms)} | "
                f"{_ms(c.p99_ms)} | {failed} | {rows} | {c.limit} |"
            )
        lines.append("")
        lines += [f"![{name}]({name})" for name in images.get(model, [])]
        lines.append("")
        errors = {e: n for c in cells if c.model == model for e, n in c.errors.items()}
        if errors:
            lines += ["Failures seen:", ""]
            lines += [f"- {n} x {e}" for e, n in sorted(errors.items(), key=lambda i: -i[1])[:10]]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write(
    cells: list[Cell], plan: Plan, machine: dict[str, str], out: Path, *, notes: str = ""
) -> Path:
    """Write report.md, results.json and the charts into ``out``; the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    images = charts(cells, out)
    (out / "results.json").write_text(
        json.dumps({"machine": machine, "cells": [c.as_dict() for c in cells]}, indent=2) + "\n"
    )
    report = out / "report.md"
    report.write_text(markdown(cells, plan, machine, images, notes=notes))
    return report
