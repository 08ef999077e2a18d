"""Forecasters fitted with statsmodels' state-space models (ARIMA, SARIMAX, ...), saved as pickles.

A fitted model's results (``results.save(path)``) keep its parameters and its training series.
A row with no history is forecast on from the end of that series; a row with one is forecast
from it with the same parameters (``results.apply``: the model is not refitted on each request).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from servekit.exceptions import ModelLoadError
from servekit.inputs.series_schema import show
from servekit.repository.series import SeriesInput
from servekit.runtimes.base import Row, RowOutput, Runtime


class StatsmodelsRuntime(Runtime):
    """``runtime: statsmodels``: a pickled statsmodels state-space results object.

    Each row is its own series (a batch never mixes two): forecast ``horizon`` steps with each
    step's prediction interval of the manifest's ``series.interval`` coverage. With ``series.
    transform: log`` the model works in logarithms: the history is logged on the way in, and the
    forecast (then the median) and its interval are turned back into the values' units.
    """

    def setup(self) -> None:
        """Load the results and forecast one step as a trial."""
        self.check_options(())
        spec = self.manifest.series
        if spec is None:
            raise ValueError("the statsmodels runtime forecasts a series: add a series section")
        self.spec: SeriesInput = spec
        try:
            from statsmodels.iolib.smpickle import load_pickle
        except ImportError as exc:
            raise ModelLoadError(
                f"{self.manifest.key} needs statsmodels, which is not installed here "
                f"(pip install 'servekit[series]'): {exc}"
            ) from exc
        path = self.model.artifact_path()
        if path is None:
            raise ValueError("the statsmodels runtime needs an artifact (results.save's pickle)")
        results = load_pickle(path)
        if not (hasattr(results, "get_forecast") and hasattr(results, "apply")):
            raise ModelLoadError(
                f"{path} holds a {type(results).__name__}, not the results of a fitted "
                "statsmodels state-space model (ARIMA, SARIMAX, UnobservedComponents...)"
            )
        self.results = results
        self.alpha = 1 - spec.interval
        dates = results.model.data.dates
        if not isinstance(dates, pd.DatetimeIndex):
            raise ModelLoadError(
                f"{path}: the model was fitted on a series without dates; fit it on a pandas "
                f"Series with a DatetimeIndex of frequency {spec.frequency}"
            )
        self.end = dates[-1]
        self([{"horizon": 1, "start": None, "values": None}])

    def predict(self, batch: list[Row]) -> list[pd.DataFrame]:
        """Each row's forecast: a frame of ``forecast``, ``lower`` and ``upper`` by date."""
        return [self._forecast(row) for row in batch]

    def _forecast(self, row: Row) -> pd.DataFrame:
        spec = self.spec
        results = self.results
        values = row["values"]
        if values is not None:
            index = pd.date_range(row["start"], periods=len(values), freq=spec.frequency)
            array = np.asarray(values, dtype=float)
            endog = pd.Series(np.log(array) if spec.transform == "log" else array, index=index)
            results = results.apply(endog)
            last = index[-1]
        else:
            last = self.end
        forecast = results.get_forecast(row["horizon"])
        bounds = np.asarray(forecast.conf_int(alpha=self.alpha))
        frame = pd.DataFrame(
            {
                "forecast": np.asarray(forecast.predicted_mean, dtype=float),
                "lower": bounds[:, 0],
                "upper": bounds[:, 1],
            },
            index=pd.date_range(last, periods=row["horizon"] + 1, freq=spec.frequency)[1:],
        )
        if spec.transform == "log":
            frame = frame.apply(np.exp)
        return frame

    def encode(self, output: Any) -> list[RowOutput]:
        """One point per step: its date, the forecast and the interval's bounds."""
        return [
            RowOutput(
                prediction=[
                    {
                        "date": show(date),
                        "forecast": float(point.forecast),
                        "lower": float(point.lower),
                        "upper": float(point.upper),
                    }
                    for date, point in frame.iterrows()
                ],
                extra={"interval": self.spec.interval},
            )
            for frame in output
        ]
