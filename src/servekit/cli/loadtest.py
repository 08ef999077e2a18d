"""``servekit loadtest``: a Locust sweep over users and deployments, and its report."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from servekit.cli.common import console
from servekit.cli.common import fail as _fail

if TYPE_CHECKING:
    from servekit.loadtest.sweep import Plan

REDIS_URL = "redis://127.0.0.1:6379/0"


def _seed_root() -> Path | None:
    """The repository holding bench/seed004, when servekit runs from a clone."""
    for folder in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (folder / "bench" / "seed004" / "__init__.py").is_file():
            return folder
    return None


def _models(source: Path | None, work: Path, wanted: list[str]) -> Path:
    """A model repository holding the plan's models: copied from ``source``, or trained here."""
    from servekit.examples import train_examples
    from servekit.loadtest import latency

    out = work / "models"
    out.mkdir(parents=True)
    examples = [m for m in wanted if m != latency.NAME]
    if source is not None:
        for name in examples:
            if (source / name).is_dir():
                shutil.copytree(source / name, out / name)
    else:
        train_examples(out, examples)
    if latency.NAME in wanted:
        latency.build(out)
    return out


def loadtest(
    quick: Annotated[bool, typer.Option(help="A short sweep (under 3 minutes).")] = False,
    url: Annotated[
        str | None,
        typer.Option(help="Load a server already running here instead of starting deployments."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the report.")] = Path("loadtest-report"),
    models: Annotated[
        Path | None,
        typer.Option(
            help="Model repository to take the models from (default: train the examples)."
        ),
    ] = None,
    users: Annotated[
        str | None, typer.Option(help="User counts, comma-separated (default: the plan's).")
    ] = None,
    deployments: Annotated[
        str | None,
        typer.Option(
            help="Deployments, comma-separated: batching, no-batching, workers-N, seed004-N, seed004-async-N (default: the plan's)."
        ),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Only these models (repeat for several).")
    ] = None,
    duration_s: Annotated[float | None, typer.Option(help="Seconds measured per cell.")] = None,
    warmup_s: Annotated[float | None, typer.Option(help="Seconds of warm-up per cell.")] = None,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help=f"Redis for distributed deployments (default: $REDIS_URL or {REDIS_URL})."
        ),
    ] = None,
) -> None:
    """Run Locust over users x deployments (in-process with batching on and off, workers on Redis, seed 004's design) and write a report with tables and charts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from servekit.loadtest import machine, report, sweep
    from servekit.loadtest.deployments import DeploymentError, Place

    # A SIGTERM unwinds like Ctrl-C, so that every deployment started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    plan = sweep.QUICK if quick else sweep.FULL
    try:
        plan = _adjusted(plan, users, deployments, model, duration_s, warmup_s)
    except (DeploymentError, ValueError) as exc:
        raise _fail(str(exc)) from None
    redis = redis_url or os.environ.get("REDIS_URL", REDIS_URL)
    total = sum(len(s.users) * (1 if url else len(s.deployments)) for s in plan.scenarios)
    work = Path(tempfile.mkdtemp(prefix="servekit-loadtest-"))
    try:
        place = None
        if url is None:
            console.print("preparing the models ...")
            repository = _models(models, work, [s.model for s in plan.scenarios])
            place = Place(models=repository, work=work, redis_url=redis, seed_root=_seed_root())
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("starting", total=total)

            def on_start(name: str) -> None:
                progress.update(bar, description=f"{name}: starting")

            def on_cell(cell: sweep.Cell) -> None:
                progress.advance(bar)
                progress.update(bar, description=f"{cell.deployment}: running")
                if cell.skipped:
                    progress.console.print(
                        f"{cell.deployment} {cell.model} {cell.users} users: not run: {cell.skipped}"
                    )
                else:
                    progress.console.print(
                        f"{cell.deployment} {cell.model} {cell.users} users: {cell.ok_rps:,.1f}/s, "
                        f"p95 {cell.p95_ms:,.0f} ms, {cell.failures} failed; {cell.limit}"
                    )

            cells = sweep.run(plan, place, url=url, on_cell=on_cell, on_start=on_start)
        written = report.write(cells, plan, machine.describe(None if url else redis), out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    console.print(f"report: {written}")


def _adjusted(
    plan: Plan,
    users: str | None,
    deployments: str | None,
    models: list[str] | None,
    duration_s: float | None,
    warmup_s: float | None,
) -> Plan:
    """The plan with the command line's choices; a ValueError says what is wrong with them."""
    from servekit.loadtest.deployments import parse
    from servekit.loadtest.sweep import FULL

    scenarios = list(plan.scenarios)
    if models:
        known = {s.model: s for s in FULL.scenarios} | {s.model: s for s in plan.scenarios}
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ValueError(
                f"unknown model(s) {', '.join(unknown)}: the sweep knows {', '.join(sorted(known))}"
            )
        scenarios = [known[m] for m in dict.fromkeys(models)]
    if users:
        try:
            counts = tuple(int(u) for u in users.split(","))
        except ValueError:
            raise ValueError(f"--users takes whole numbers, comma-separated: {users!r}") from None
        if any(c < 1 for c in counts):
            raise ValueError(f"--users must all be at least 1: {users!r}")
        scenarios = [replace(s, users=counts) for s in scenarios]
    if deployments:
        chosen = tuple(parse(d.strip()) for d in deployments.split(","))
        scenarios = [replace(s, deployments=chosen) for s in scenarios]
    return replace(
        plan,
        scenarios=tuple(scenarios),
        duration_s=plan.duration_s if duration_s is None else duration_s,
        warmup_s=plan.warmup_s if warmup_s is None else warmup_s,
    )
