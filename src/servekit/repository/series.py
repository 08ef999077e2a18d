"""The manifest's ``series`` section: the history a forecaster takes, and the horizon it answers."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from servekit.repository.strict import Strict


class SeriesInput(Strict):
    """What a forecasting model takes: one series of values at a fixed frequency, and a horizon.

    A request sends the recent history (dates and values, or a start date and values) and how
    many steps to forecast, or only the horizon, to forecast on from the end of the training
    series. Each request's series is one row: a batch never mixes two series.
    """

    frequency: str = "D"
    """The step between values, as a pandas offset alias (``D`` daily, ``h`` hourly, ``W``...)."""
    value_name: str = Field(default="value", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    """What the values are (``price``), as the docs and warnings name them."""
    unit: str | None = None
    """The values' unit (``USD``), for the docs."""
    min_history: int = Field(default=1, gt=0)
    """The fewest values a history may have: what the model needs to forecast from it."""
    max_history: int = Field(default=1000, gt=0)
    """The most values a history may have (the request's size bound)."""
    max_horizon: int = Field(default=30, gt=0)
    """The most steps one request may ask for."""
    interval: float = Field(default=0.9, gt=0, lt=1)
    """The coverage of each step's prediction interval (0.9: the 5th to the 95th percentile)."""
    transform: Literal["none", "log"] = "none"
    """``log``: the model was fitted on the logarithm of the values (prices, say). Values must then
    be positive; the runtime forecasts in logs and answers in the values' own units."""

    @model_validator(mode="after")
    def _check(self) -> Self:
        # NOTE: pandas is imported here, not at the top: a manifest without a series reads none.
        import pandas as pd

        try:
            pd.tseries.frequencies.to_offset(self.frequency)
        except ValueError:
            raise ValueError(
                f"frequency {self.frequency!r} is not a pandas offset alias (D, h, W, MS, ...)"
            ) from None
        if self.min_history > self.max_history:
            raise ValueError(
                f"min_history ({self.min_history}) is over max_history ({self.max_history})"
            )
        return self
