"""The /metrics page (and the monitor's snapshot) for one process, or summed over all of a server's processes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PID = re.compile(r"_(\d+)\.db$")
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def multiprocess_dir() -> Path | None:
    """The shared metrics folder when several processes serve, else None."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir(folder: Path) -> None:
    """Create or empty the folder, then point prometheus_client at it (before workers import it)."""
    folder.mkdir(parents=True, exist_ok=True)
    # NOTE: files left by an earlier run would be summed into this one's counters.
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)


def _pids(folder: Path) -> set[int]:
    return {int(m.group(1)) for p in folder.glob("*.db") if (m := _PID.search(p.name))}


def _stat(pid: int) -> list[str] | None:
    try:
        # Fields after the command name (which may hold spaces) start at index 2 (state).
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


class ProcessesCollector(Collector):
    """CPU and memory of every live process that writes into the shared folder, by pid.

    prometheus_client's own process metrics describe only the process that answers the scrape.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def collect(self) -> Iterator[Metric]:
        """Read /proc for each live pid."""
        cpu = CounterMetricFamily(
            "process_cpu_seconds", "CPU time of a server process.", labels=["pid"]
        )
        rss = GaugeMetricFamily(
            "process_resident_memory_bytes", "Resident memory of a server process.", labels=["pid"]
        )
        for pid in sorted(_pids(self.folder)):
            fields = _stat(pid)
            if fields is not None:
                cpu.add_metric([str(pid)], (int(fields[11]) + int(fields[12])) / _TICKS)
                rss.add_metric([str(pid)], int(fields[21]) * _PAGE)
        yield cpu
        yield rss


class Exposition:
    """Renders the metrics page from the right registry for this process."""

    def __init__(self) -> None:
        folder = multiprocess_dir()
        self.folder = folder
        if folder is None:
            self.registry: CollectorRegistry = REGISTRY
        else:
            self.registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(self.registry, str(folder))  # type: ignore[no-untyped-call]
            self.registry.register(ProcessesCollector(folder))

    def live_registry(self) -> CollectorRegistry:
        """The registry to collect now: this process's, or the sum over the live processes."""
        if self.folder is not None:
            # NOTE: before collecting, so that a process that died (or was killed) without
            # cleaning up no longer adds its last queue depth to the live sums.
            for pid in _pids(self.folder):
                if _stat(pid) is None:
                    multiprocess.mark_process_dead(pid, str(self.folder))  # type: ignore[no-untyped-call]
        return self.registry

    def render(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.live_registry())

    def process_exited(self) -> None:
        """Drop this process's live gauges (its counters and histograms stay in the sums)."""
        if self.folder is not None:
            multiprocess.mark_process_dead(os.getpid(), str(self.folder))  # type: ignore[no-untyped-call]
