"""``servekit package forecaster``: a forecaster's folder from its statsmodels results and series."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from servekit.cli.common import console, invalid_options, packaging_errors
from servekit.cli.common import fail as _fail

VALUE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
"""What the manifest's ``series.value_name`` may be (as SeriesInput checks it)."""


def _load_results(path: Path) -> Any:
    try:
        from statsmodels.iolib.smpickle import load_pickle
    except ImportError:
        raise _fail(
            "packaging a forecaster needs statsmodels (pip install 'servekit[series]')"
        ) from None
    if not path.is_file():
        raise _fail(f"--model takes the file results.save() wrote, not {path}")
    try:
        results = load_pickle(path)
    except Exception as exc:  # an unpickler can raise anything; the message says what
        raise _fail(f"{path} cannot be read as a statsmodels pickle: {exc}") from None
    if not (hasattr(results, "get_forecast") and hasattr(results, "apply")):
        raise _fail(
            f"{path} holds a {type(results).__name__}, not the results of a fitted statsmodels "
            "state-space model (ARIMA, SARIMAX, UnobservedComponents...)"
        )
    return results


def _read_history(path: Path, date_column: str | None, value_column: str | None) -> Any:
    """The series in ``path``: a column of dates (the first by default) and one of values."""
    import pandas as pd

    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix in (".csv", ".txt"):
        frame = pd.read_csv(path)
    else:
        raise _fail(f"{path}: the history must be .csv or .parquet")
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns)
    date_column = date_column or columns[0]
    if value_column is None:
        others = [c for c in columns if c != date_column]
        if len(others) != 1:
            raise _fail(
                f"{path} has {len(others)} columns besides the dates ({date_column}): "
                "say which holds the values with --value-column"
            )
        value_column = others[0]
    for column in (date_column, value_column):
        if column not in columns:
            raise _fail(f"{path} has no column {column!r} (it has {', '.join(columns)})")
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(frame[date_column], format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise _fail(f"{path}: column {date_column!r} is not dates (ISO 8601): {exc}") from None
    try:
        values = pd.to_numeric(frame[value_column]).to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise _fail(f"{path}: column {value_column!r} is not numbers: {exc}") from None
    return pd.Series(values, index=dates, name=value_column)


def _transform_of(results: Any, series: Any, given: str | None) -> str:
    """``none`` or ``log``: which of the series the results were fitted on, or a clear error.

    NOTE: a model fitted on log values but packaged without ``transform: log`` would answer
    logarithms as prices, and a model fitted on another series would forecast on from another
    date: both are refused here rather than served.
    """
    import numpy as np
    import pandas as pd

    if given not in (None, "none", "log"):
        raise _fail(f"--transform takes none or log, not {given!r}")
    dates = results.model.data.dates
    if not isinstance(dates, pd.DatetimeIndex):
        raise _fail(
            "the model was fitted on values without dates: fit it on a pandas Series with a "
            "DatetimeIndex (its frequency set)"
        )
    index = series.index
    same_dates = len(dates) == len(index) and bool(
        (dates.tz_localize(None).as_unit("s") == index.tz_localize(None).as_unit("s")).all()
    )
    if not same_dates:
        raise _fail(
            f"the model was fitted on {len(dates)} values from {dates[0].date()} to "
            f"{dates[-1].date()}, the history has {len(index)} from {index[0].date()} to "
            f"{index[-1].date()}: give the series it was fitted on"
        )
    endog = np.asarray(results.model.endog, dtype=float).ravel()
    values = series.to_numpy(dtype=float)
    fitted_on = [
        name
        for name, candidate in (
            ("none", values),
            ("log", np.log(values) if (values > 0).all() else None),
        )
        if candidate is not None and np.allclose(endog, candidate, rtol=1e-9, atol=0)
    ]
    if not fitted_on:
        raise _fail(
            "the model was not fitted on the history's values, nor on their logarithm: give "
            "the series it was fitted on, in the values' own units"
        )
    if given is not None and given != fitted_on[0]:
        fitted = "their logarithm" if fitted_on[0] == "log" else "the values themselves"
        raise _fail(f"--transform {given}: the model was fitted on {fitted}")
    return fitted_on[0]


def forecaster(
    model: Annotated[
        Path, typer.Option(help="The fitted results' pickle (results.save(...)), e.g. results.pkl.")
    ],
    history: Annotated[
        Path,
        typer.Option(
            help="The series the model was fitted on, in the values' own units (.csv or "
            ".parquet): a column of dates and one of values."
        ),
    ],
    name: Annotated[str, typer.Option(help="Model name (lowercase, as in URLs).")],
    out: Annotated[Path, typer.Option(help="Folder to write.")],
    frequency: Annotated[
        str | None,
        typer.Option(
            help="The step between values, a pandas offset alias: D, h, W, MS... "
            "(default: the model's)."
        ),
    ] = None,
    transform: Annotated[
        str | None,
        typer.Option(
            help="none, or log for a model fitted on the values' logarithm (default: what the "
            "model was fitted on, compared with the history)."
        ),
    ] = None,
    date_column: Annotated[
        str | None, typer.Option(help="The history's column of dates (default: the first).")
    ] = None,
    value_column: Annotated[
        str | None,
        typer.Option(help="The history's column of values (default: the only other one)."),
    ] = None,
    value_name: Annotated[
        str | None,
        typer.Option(help="What the values are, as the docs name them (default: the column's)."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="The values' unit (USD), for the docs.")] = None,
    min_history: Annotated[
        int | None, typer.Option(help="The fewest values a request's history may have.")
    ] = None,
    max_history: Annotated[
        int | None, typer.Option(help="The most values a request's history may have.")
    ] = None,
    max_horizon: Annotated[
        int | None, typer.Option(help="The most steps one request may ask for.")
    ] = None,
    interval: Annotated[
        float | None, typer.Option(help="Each step's prediction interval's coverage (0.9).")
    ] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    description: Annotated[str, typer.Option(help="One line about the model.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
) -> None:
    """Write a forecaster's folder from fitted statsmodels results and the series they were fitted on."""
    from pydantic import ValidationError

    from servekit.repository.package_series import package_forecaster
    from servekit.repository.series import SeriesInput

    results = _load_results(model)
    series = _read_history(history, date_column, value_column)
    value_name = value_name or str(series.name)
    if not VALUE_NAME.match(value_name):
        raise _fail(
            f"the values' column {value_name!r} cannot name them (letters, digits and _): "
            "give --value-name"
        )
    fitted_on = _transform_of(results, series, transform)
    frequency = frequency or results.model.data.dates.freqstr
    if frequency is None:
        raise _fail("the model's dates have no frequency: give it with --frequency")
    spec: dict[str, Any] = {
        "frequency": frequency,
        "value_name": value_name,
        "transform": fitted_on,
    }
    given = {
        "unit": unit,
        "min_history": min_history,
        "max_history": max_history,
        "max_horizon": max_horizon,
        "interval": interval,
    }
    spec |= {key: value for key, value in given.items() if value is not None}
    try:
        section = SeriesInput.model_validate(spec)
    except ValidationError as exc:
        raise _fail(invalid_options(exc)) from None
    with packaging_errors(out):
        folder = package_forecaster(
            results,
            series,
            out,
            name=name,
            spec=section,
            version=version,
            description=description,
            overwrite=overwrite,
        )
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(series)} values from "
        f"{series.index[0].date()} to {series.index[-1].date()}, frequency {section.frequency}, "
        f"transform {section.transform})",
        highlight=False,
        soft_wrap=True,
    )
