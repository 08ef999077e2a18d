"""Helpers of the repository tests: writing model folders with hand-made manifests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from servekit.repository.manifest import MANIFEST_FILE

WriteModel = Callable[..., Path]


def minimal_manifest(**changes: Any) -> dict[str, Any]:
    """The smallest valid manifest (a python model needs no artifact), with fields changed."""
    manifest: dict[str, Any] = {
        "name": "echo",
        "runtime": "python",
        "task": "custom",
        "entrypoint": "model:Echo",
        "inputs": [{"name": "x", "type": "float"}, {"name": "y", "type": "float"}],
    }
    manifest.update(changes)
    return manifest


@pytest.fixture
def write_model(tmp_path: Path) -> WriteModel:
    """Write ``servekit.yaml`` into ``tmp_path/<where>``: a mapping is dumped, text written as is."""

    def write(where: str = "model", manifest: dict[str, Any] | str | None = None) -> Path:
        folder = tmp_path / where
        folder.mkdir(parents=True, exist_ok=True)
        content = minimal_manifest() if manifest is None else manifest
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
        return folder

    return write
