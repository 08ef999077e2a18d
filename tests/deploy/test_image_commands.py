"""What the image and the deployment files run, run here: the CLI accepts every command, and the
image's settings serve on $PORT and pass its own health check (no container engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import DEPLOY, load_yaml, load_yaml_all
from tests.e2e.server import free_port, running_server

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def deployment_commands() -> set[tuple[str, ...]]:
    """The servekit arguments that compose, Kubernetes and Cloud Run give the image."""
    found = {tuple(s["command"]) for s in load_yaml(DEPLOY / "compose.yaml")["services"].values()
             if s.get("image", "").startswith("${SERVEKIT_IMAGE")}  # fmt: skip
    for path in (DEPLOY / "k8s").glob("*.yaml"):
        for doc in load_yaml_all(path):
            if doc["kind"] == "Deployment":
                pod = doc["spec"]["template"]["spec"]
                found |= {
                    tuple(c["args"]) for c in pod["containers"] + pod.get("initContainers", [])
                }
    service = load_yaml(DEPLOY / "cloudrun" / "service.yaml")
    found |= {tuple(c["args"]) for c in service["spec"]["template"]["spec"]["containers"]}
    return found


@pytest.mark.parametrize("args", sorted(deployment_commands()))
def test_servekit_accepts_every_command_the_deployments_run(args: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "servekit", *args, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"servekit {' '.join(args)}: {done.stdout}{done.stderr}"


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's runtime stage."""
    runtime = DOCKERFILE.split(" AS runtime", 1)[1]
    (block,) = re.findall(r"^ENV (.*?)(?<!\\)\n", runtime, re.MULTILINE | re.DOTALL)
    return dict(re.findall(r"(\w+)=(\S+)", block))


def test_image_settings_serve_on_port_and_pass_the_health_check(
    examples_dir: Path, tmp_path: Path
) -> None:
    env = image_env()
    assert env["SERVEKIT_HOST"] == "0.0.0.0"
    port = free_port()
    # As Cloud Run runs it: PORT set, production, the examples where the image keeps them.
    settings = {
        **{k: v for k, v in env.items() if k.startswith("SERVEKIT_")},
        "SERVEKIT_MODEL_REPOSITORY": str(examples_dir),
        "SERVEKIT_DATA_DIR": str(tmp_path / "data"),
        "SERVEKIT_METRICS_DIR": str(tmp_path / "metrics"),
        "SERVEKIT_ENVIRONMENT": "production",
        "SERVEKIT_AUTH__JWT_SECRET": "x" * 48,
        "PORT": str(port),
    }
    (healthcheck,) = re.findall(r"^\s+CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    command = json.loads(healthcheck)
    with running_server(examples_dir, tmp_path, port=port, port_flag=False, env=settings):
        checked = subprocess.run(
            [sys.executable if command[0] == "python" else command[0], *command[1:]],
            env={**os.environ, "PORT": str(port)}, capture_output=True, timeout=10, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
    down = subprocess.run(
        [sys.executable, *command[1:]], env={**os.environ, "PORT": str(port)},
        capture_output=True, timeout=10, check=False,
    )  # fmt: skip
    assert down.returncode != 0, "the health check passes with no server"
