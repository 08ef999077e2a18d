"""Writing a model folder for a forecaster: its fitted results, series spec and statistics."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from servekit.drift.stats import numeric_stats
from servekit.exceptions import ManifestError
from servekit.inputs.series import returns
from servekit.repository.loader import ModelFolder, read_manifest
from servekit.repository.manifest import Manifest, Task
from servekit.repository.series import SeriesInput
from servekit.repository.staging import merge_extra, refuse_to_replace, staged, write_manifest
from servekit.repository.stats import RECENT_VALUES, SeriesStats
from servekit.runtimes.registry import runtime_class

ARTIFACT = "model.pickle"


def series_stats(series: pd.Series, spec: SeriesInput) -> SeriesStats:
    """What the out-of-distribution checks compare a history with: values and steps' changes."""
    values = series.to_numpy(dtype=float)
    return SeriesStats(
        count=int(values.size),
        start=series.index[0].to_pydatetime(),
        end=series.index[-1].to_pydatetime(),
        values=numeric_stats(pd.Series(values)),
        returns=numeric_stats(pd.Series(returns(values, spec.transform))),
        recent=[float(v) for v in values[-RECENT_VALUES:]],
    )


def _check_series(series: pd.Series, spec: SeriesInput) -> None:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError("the training series needs a DatetimeIndex (its dates)")
    expected = pd.date_range(series.index[0], periods=len(series), freq=spec.frequency)
    if not series.index.equals(expected):
        raise ValueError(
            f"the training series' dates are not one step ({spec.frequency}) apart, "
            "without gaps or repeats"
        )
    values = series.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError("the training series has missing or infinite values")
    if spec.transform == "log" and (values <= 0).any():
        raise ValueError("transform: log needs positive values, and the training series has some")


def package_forecaster(
    results: Any,
    series: pd.Series,
    out_dir: str | Path,
    *,
    name: str,
    spec: SeriesInput | Mapping[str, Any],
    version: str = "1",
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> ModelFolder:
    """Write ``out_dir`` for a statsmodels forecaster (``runtime: statsmodels``).

    ``results`` are a fitted state-space model's (``ARIMA(...).fit()``), fitted on ``series``
    (or on its logarithm, with ``spec`` saying ``transform: log``); ``series`` is the training
    series in the values' own units, with its dates, for the statistics the out-of-distribution
    checks compare a history with. ``spec`` is the manifest's series section; ``extra`` adds
    manifest fields (``batching``, ``ood``...). The folder is checked by loading it and
    forecasting one step before it replaces anything.
    """
    folder = Path(out_dir)
    refuse_to_replace(folder, overwrite)
    section = spec if isinstance(spec, SeriesInput) else SeriesInput.model_validate(dict(spec))
    _check_series(series, section)
    manifest: dict[str, Any] = {
        "name": name,
        "version": version,
        "runtime": "statsmodels",
        "task": Task.forecasting.value,
        "description": description,
        "artifact": ARTIFACT,
        "series": section.model_dump(mode="json", exclude_none=True),
        "outputs": {"name": section.value_name, "unit": section.unit} if section.unit else {},
        "training_stats": {
            "rows": len(series),
            "series": series_stats(series, section).model_dump(mode="json"),
        },
    }
    merge_extra(manifest, extra)
    try:
        Manifest.model_validate(manifest)
    except Exception as exc:
        raise ManifestError(f"the manifest for {name} would be invalid: {exc}") from exc
    with staged(folder) as staging:
        results.save(str(staging / ARTIFACT))
        draft = ModelFolder(manifest=Manifest.model_validate(manifest), path=staging)
        runtime_class("statsmodels")(draft).setup()  # loads, and forecasts one step
        write_manifest(staging, manifest)
        read_manifest(staging)
    return read_manifest(folder)
