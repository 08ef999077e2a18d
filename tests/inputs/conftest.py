"""An image model with no framework: a Python class that tells light images from dark ones."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from PIL import Image

from servekit import Settings, create_app
from servekit.repository.manifest import MANIFEST_FILE

SHADE = '''
class Shade:
    """Light or dark, from the mean of the prepared pixels; echoes what it was given."""

    def predict(self, rows):
        out = []
        for row in rows:
            light = float(row["image"].mean())
            probs = {"light": light, "dark": 1.0 - light}
            best = max(probs, key=probs.get)
            out.append({
                "prediction": best,
                "score": probs[best],
                "top_k": [{"label": k, "probability": v} for k, v in sorted(probs.items(), key=lambda kv: -kv[1])],
                "shape": list(row["image"].shape),
                "width": row["width"],
                "height": row["height"],
            })
        return out


class SlowShade(Shade):
    """Shade, with a call that takes 0.3 s whatever its batch: rows that come meanwhile wait."""

    def predict(self, rows):
        import time

        time.sleep(0.3)
        return super().predict(rows)
'''


def stats(low: float, high: float) -> dict[str, Any]:
    """Numeric statistics spanning ``low`` to ``high``."""
    mid = (low + high) / 2
    return {
        "count": 100,
        "min": low,
        "max": high,
        "mean": mid,
        "std": (high - low) / 4,
        "q01": low,
        "q50": mid,
        "q99": high,
    }


def manifest(**changes: Any) -> dict[str, Any]:
    """The shade model's manifest: grey 4x4, PNG and JPEG, 200 kB, a million pixels."""
    m: dict[str, Any] = {
        "name": "shade",
        "runtime": "python",
        "entrypoint": "shade:Shade",
        "task": "image_classification",
        "image": {
            "formats": ["png", "jpeg"],
            "max_bytes": 200_000,
            "max_pixels": 1_000_000,
            "mode": "L",
            "size": [4, 4],
        },
        "outputs": {"labels": ["dark", "light"]},
        "batching": {"max_request_rows": 4},
        "training_stats": {
            "rows": 100,
            "image": {
                "count": 100,
                "mean": stats(0.05, 0.95),
                "std": stats(0.1, 0.5),
                "confidence": stats(0.55, 1.0),
            },
        },
    }
    m.update(changes)
    return m


def write_shade(folder: Path, **changes: Any) -> Path:
    """A model repository holding the shade model (with manifest fields changed)."""
    model = folder / "shade"
    model.mkdir(parents=True)
    (model / "shade.py").write_text(SHADE)
    (model / MANIFEST_FILE).write_text(yaml.safe_dump(manifest(**changes)))
    return folder


def png(pixels: Any, mode: str = "L", format: str = "PNG", **options: Any) -> bytes:
    """An image file of these pixel values (a 2-D or 3-D uint8 array)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode=None).convert(mode).save(
        buffer, format, **options
    )
    return buffer.getvalue()


def checker(size: int = 32) -> bytes:
    """A dark-and-white checkerboard PNG: mean 0.58, high contrast, like training."""
    board = (np.indices((size, size)) // (size // 4)).sum(axis=0) % 2
    return png(np.where(board, 255, 40))


ShadeClient = Callable[..., TestClient]
RepoWriter = Callable[..., Path]
"""Writes a model repository into a folder, with manifest fields changed."""


def started_clients(tmp_path: Path, write: RepoWriter) -> Iterator[Callable[..., TestClient]]:
    """A factory of started clients, each over a repository ``write`` makes; all stopped after."""
    clients: list[TestClient] = []

    def start(settings: dict[str, Any] | None = None, **changes: Any) -> TestClient:
        repo = write(tmp_path / f"models{len(clients)}", **changes)
        options = {"allow_anonymous": True, **(settings or {})}
        app = create_app(Settings(model_repository=repo, data_dir=tmp_path / "data", **options))
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def shade_client(tmp_path: Path) -> Iterator[ShadeClient]:
    """Start an app serving the shade model (manifest changes and settings as keywords)."""
    yield from started_clients(tmp_path, write_shade)


# The text model's fixtures, for the text tests beside these.
from tests.inputs.text_models import rules_client, rules_dir  # noqa: E402, F401
