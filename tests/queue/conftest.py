"""Distributed-mode fixtures (the real Redis and a key prefix of its own come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slow import slow_repo


@pytest.fixture
def echo_dir(tmp_path: Path) -> Path:
    """A repository with the echo model (no delay)."""
    return slow_repo(tmp_path / "models", 0.0, name="echo", max_batch_size=16)
