"""``./scripts/serve``: a second one does not retrain into the folder the first one serves."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "serve"


def test_a_second_serve_refuses_before_touching_the_models(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "marker").write_text("the first server's models")
    with (tmp_path / "serve.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first ./scripts/serve holds it
        second = subprocess.run(
            [str(SCRIPT)],
            env={**os.environ, "SERVEKIT_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert second.returncode == 1
    assert "already serving" in second.stderr
    assert sorted(p.name for p in models.iterdir()) == ["marker"]  # nothing retrained
