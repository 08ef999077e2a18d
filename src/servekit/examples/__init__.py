"""The bundled example models, each trained from data that ships with a package or is generated."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from servekit.examples import iris, taxifare
from servekit.repository.loader import ModelFolder

EXAMPLES: dict[str, Callable[[Path], ModelFolder]] = {
    "iris": iris.train,
    "taxifare": taxifare.train,
}


def train_examples(out_dir: Path, names: list[str] | None = None) -> list[ModelFolder]:
    """Train the named examples (all by default) into ``out_dir/<name>``."""
    unknown = set(names or []) - set(EXAMPLES)
    if unknown:
        raise ValueError(
            f"unknown example(s): {', '.join(sorted(unknown))}; known: {', '.join(EXAMPLES)}"
        )
    return [EXAMPLES[n](out_dir / n) for n in (names or list(EXAMPLES))]
