"""What the prediction log costs: servekit with the log on and off, measured in alternating pairs.

One run of each is not enough: another process on the server's core, and the server's own full
garbage collections (about 0.1 s each, several a second under load), move a run's numbers by
more than the log costs. So both servers run at once (pinned to core 0, as in ``run.py``), each
pair of wrk runs alternates which goes first, the server's own CPU time per request is read from
/proc beside its req/s, a pair during which other processes used the server's core is shown and
left out, and the result is the median over the pairs. Run: ``.venv/bin/python bench/logcost.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.distributed import variant  # noqa: E402
from bench.models import build  # noqa: E402
from bench.run import BODIES, LOAD_CORE, LUA, SERVER_CORE, cpu_seconds, free_port, wrk  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Sample:
    """One wrk run against one server."""

    rps: float
    cpu_us: float
    """The server's CPU time (every thread) per request."""
    p50_ms: float
    others: float
    """Share of the server's core that other processes used meanwhile."""


def core_busy(core: int) -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(v) for v in line.split()[1:]]
            return (sum(ticks) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait
    raise RuntimeError(f"no cpu{core} in /proc/stat")


def start(
    model: Path, data: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable, "-m", "servekit", "serve"]
    command += ["--allow-anonymous", "--models", str(model), "--port", str(port)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "SERVEKIT_DATA_DIR": str(data), **env}
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return process, f"{url}/models/{model.name}/predict"
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"servekit was not ready within 60 s; see {log}")


def sample(
    process: subprocess.Popen[bytes], url: str, script: Path, clients: int, seconds: float
) -> Sample:
    cpu, busy, began = cpu_seconds(process.pid), core_busy(SERVER_CORE), time.monotonic()
    result = wrk(url, script, clients, seconds)
    cpu, busy = cpu_seconds(process.pid) - cpu, core_busy(SERVER_CORE) - busy
    if result["non2xx"] or result["errors"]:
        raise RuntimeError(f"{url}: {result['non2xx']} non-2xx answers, {result['errors']} errors")
    return Sample(
        rps=result["requests"] / (result["duration_us"] / 1e6),
        cpu_us=cpu / result["requests"] * 1e6,
        p50_ms=result["p50"] / 1000,
        others=max(0.0, busy - cpu) / (time.monotonic() - began),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--models", default="iris,forest", help="comma-separated: iris, forest, fixed"
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[64])
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--max-others", type=float, default=0.05, help="busier pairs are left out")
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=None,
        help="the models' max_wait_ms (manifest's if unset)",
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {LOAD_CORE})
    work = Path(tempfile.mkdtemp(prefix="servekit-logcost-"))
    build(work / "models")
    log = work / "servers.log"
    print(f"servers log to {log}", flush=True)
    for name in args.models.split(","):
        script = work / f"{name}.lua"
        script.write_text(LUA % json.dumps(BODIES[name]))
        model, data = work / "models" / name, work / "data" / name
        if args.max_wait_ms is not None:
            model = variant(model, work / "variants" / name, max_wait_ms=args.max_wait_ms)
        shutil.rmtree(data, ignore_errors=True)
        servers = {
            "on": start(model, data, {}, log),
            "off": start(model, data, {"SERVEKIT_PREDICTION_LOG__ENABLED": "false"}, log),
        }
        try:
            for clients in args.clients:
                for _, url in servers.values():
                    wrk(url, script, clients, 2)  # warm-up, not counted
                kept: list[dict[str, Sample]] = []
                for i in range(args.pairs):
                    pair = {
                        side: sample(*servers[side], script, clients, args.seconds)
                        for side in (("on", "off") if i % 2 == 0 else ("off", "on"))
                    }
                    on, off = pair["on"], pair["off"]
                    busy = max(on.others, off.others) > args.max_others
                    if not busy:
                        kept.append(pair)
                    print(
                        f"{name} c={clients} pair {i}: log on {on.rps:7,.0f} req/s {on.cpu_us:6.1f} us/req"
                        f" | off {off.rps:7,.0f} req/s {off.cpu_us:6.1f} us/req"
                        f" | cost {1 - on.rps / off.rps:6.1%} by req/s, {1 - off.cpu_us / on.cpu_us:6.1%} by CPU"
                        + (
                            f"  (left out: others used {max(on.others, off.others):.0%} of core 0)"
                            if busy
                            else ""
                        ),
                        flush=True,
                    )
                if not kept:
                    print(
                        f"==> {name} c={clients}: every pair was disturbed; run again", flush=True
                    )
                    continue
                by_rps = statistics.median(1 - p["on"].rps / p["off"].rps for p in kept)
                by_cpu = statistics.median(1 - p["off"].cpu_us / p["on"].cpu_us for p in kept)
                p50 = {s: statistics.median(p[s].p50_ms for p in kept) for s in ("on", "off")}
                print(
                    f"==> {name} c={clients}, {len(kept)} quiet pairs: the log costs {by_rps:.1%} of"
                    f" req/s, {by_cpu:.1%} by CPU per request; p50 {p50['on']:.2f} ms on,"
                    f" {p50['off']:.2f} ms off",
                    flush=True,
                )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(20)


if __name__ == "__main__":
    main()
