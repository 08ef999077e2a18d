"""The bundled example models, each trained from data that ships with a package or is generated."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from servekit.examples import iris, taxifare
from servekit.repository.loader import ModelFolder

log = logging.getLogger("servekit.examples")

TORCH_MISSING = "PyTorch is not installed (pip install 'servekit[torch]')"


def _digits(out_dir: Path) -> ModelFolder:
    # NOTE: imported only here: the module imports torch, an optional extra.
    from servekit.examples import digits

    return digits.train(out_dir)


EXAMPLES: dict[str, Callable[[Path], ModelFolder]] = {
    "iris": iris.train,
    "taxifare": taxifare.train,
    "digits": _digits,
}
# The examples that need an optional extra, and what they need it for.
NEEDS_TORCH = frozenset({"digits"})


def torch_installed() -> bool:
    """Whether PyTorch can be imported.

    Imported, not only found: an install that is there but broken is as good as none, and the
    seconds the import takes are spent anyway by the examples that then use it.
    """
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def train_examples(out_dir: Path, names: list[str] | None = None) -> list[ModelFolder]:
    """Train the named examples (all by default) into ``out_dir/<name>``.

    Without PyTorch, the examples that need it are skipped when all are trained (with a line in
    the log), and refused when named.
    """
    unknown = set(names or []) - set(EXAMPLES)
    if unknown:
        raise ValueError(
            f"unknown example(s): {', '.join(sorted(unknown))}; known: {', '.join(EXAMPLES)}"
        )
    chosen = names or list(EXAMPLES)
    if NEEDS_TORCH & set(chosen) and not torch_installed():
        if names and NEEDS_TORCH & set(names):
            raise ValueError(f"{', '.join(sorted(NEEDS_TORCH & set(names)))}: {TORCH_MISSING}")
        for name in NEEDS_TORCH & set(chosen):
            log.warning("%s skipped: %s", name, TORCH_MISSING)
        chosen = [n for n in chosen if n not in NEEDS_TORCH]
    return [EXAMPLES[n](out_dir / n) for n in chosen]
