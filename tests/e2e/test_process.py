"""The server process itself: the port it takes, refusing a bad manifest, and stopping on SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.conftest import ServerFactory
from tests.e2e.server import EXIT_TIMEOUT, STARTUP_TIMEOUT, clean_env, free_port, serve_command


def test_port_env_var_is_honoured_without_port_flag(spawn_server: ServerFactory) -> None:
    port = free_port()
    server = spawn_server(port=port, port_flag=False, env={"PORT": str(port)})
    response = httpx.get(f"http://127.0.0.1:{port}/readyz")
    assert response.status_code == 200
    assert server.process.poll() is None


def test_servekit_port_wins_over_port(spawn_server: ServerFactory) -> None:
    cloud_port, servekit_port = free_port(), free_port()
    assert cloud_port != servekit_port
    env = {"PORT": str(cloud_port), "SERVEKIT_PORT": str(servekit_port)}
    spawn_server(port=servekit_port, port_flag=False, env=env)
    assert httpx.get(f"http://127.0.0.1:{servekit_port}/readyz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{cloud_port}/readyz")


def test_port_flag_wins_over_the_environment(spawn_server: ServerFactory) -> None:
    flag_port, env_port = free_port(), free_port()
    env = {"PORT": str(env_port), "SERVEKIT_PORT": str(env_port)}
    spawn_server(port=flag_port, env=env)
    assert httpx.get(f"http://127.0.0.1:{flag_port}/readyz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{env_port}/readyz")


def test_sigterm_exits_zero(spawn_server: ServerFactory) -> None:
    server = spawn_server()
    assert httpx.get(f"{server.url}/models/iris").status_code == 200
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(EXIT_TIMEOUT) == 0
    stderr = server.stderr()
    assert "Traceback" not in stderr
    # The shutdown was logged as the rest, one JSON line at a time.
    assert any(r["logger"].startswith("uvicorn") for r in server.records())
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/healthz")


def write_bad_model(examples_dir: Path, repo: Path, **changes: Any) -> Path:
    """A copy of iris whose manifest has ``changes``; returns the manifest's path.

    The folder name is long, so that a message wrapped at the terminal width would break the path.
    """
    folder = repo / ("iris_with_a_deliberately_long_folder_name_" + "x" * 40)
    shutil.copytree(examples_dir / "iris", folder)
    manifest = folder / "servekit.yaml"
    raw = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    raw.update(changes)
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return manifest


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"task": "clasification"}, "task"),
        ({"treshold": 0.5}, "treshold"),
        ({"inputs": []}, "inputs"),
    ],
    ids=["misspelt-task", "unknown-field", "no-inputs"],
)
def test_bad_manifest_stops_serve_naming_file_and_field(
    examples_dir: Path, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    repo = tmp_path / "models"
    shutil.copytree(examples_dir / "taxifare", repo / "taxifare")
    manifest = write_bad_model(examples_dir, repo, **changes)
    result = subprocess.run(
        serve_command(repo, free_port()),
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=STARTUP_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert any(str(manifest) in line for line in lines), result.stderr
    assert any(line.strip().startswith(f"{field}:") for line in lines), result.stderr
    assert "Traceback" not in result.stderr
    assert "Uvicorn running" not in result.stderr
