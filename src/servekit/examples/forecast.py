"""Seed 003's Bitcoin price predictor: an ARIMA (statsmodels) on a generated daily price series.

No download can give a real price history here, so the series is generated to behave like a
crypto price, from a fixed seed: three years of daily closes (2023-07-01 to 2026-06-30) from
30,000, whose log returns have a small drift, fat tails (Student's t with 4 degrees of freedom)
and volatility that clusters (a GARCH(1,1): calm weeks and wild ones, about 2% a day in the
long run). The model is an ARIMA(1,1,1) with drift on the logarithm of the price, so that its
forecasts and 90% intervals are in prices and never below zero. Its intervals assume a constant
volatility: in a wild week they are too narrow, in a calm one too wide.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from servekit.repository.loader import ModelFolder
from servekit.repository.package_series import package_forecaster

START = "2023-07-01"
DAYS = 1096
SEED = 3
FIRST_PRICE = 30_000.0
DRIFT = 0.0008
"""Mean daily log return (about 34% a year)."""
GARCH = (2e-5, 0.10, 0.85)
"""omega, alpha, beta: tomorrow's variance is omega + alpha * today's shock² + beta * today's."""
T_DEGREES = 4

SPEC = {
    "frequency": "D",
    "value_name": "price",
    "unit": "USD",
    "min_history": 30,
    "max_history": 1000,
    "max_horizon": 30,
    "interval": 0.9,
    "transform": "log",
}


def price_series(days: int = DAYS, seed: int = SEED) -> pd.Series:
    """The generated daily prices, dated from ``START``."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = GARCH
    # Student's t scaled to unit variance (its own is df / (df - 2)).
    shocks = rng.standard_t(T_DEGREES, size=days) / np.sqrt(T_DEGREES / (T_DEGREES - 2))
    variance = omega / (1 - alpha - beta)  # the long-run variance
    log_returns = np.empty(days)
    for day in range(days):
        log_returns[day] = DRIFT + np.sqrt(variance) * shocks[day]
        variance = omega + alpha * (log_returns[day] - DRIFT) ** 2 + beta * variance
    prices = FIRST_PRICE * np.exp(np.cumsum(log_returns))
    index = pd.date_range(START, periods=days, freq="D")
    return pd.Series(prices, index=index, name="price")


def train(out_dir: Path) -> ModelFolder:
    """Fit the ARIMA on the log prices and package it with the series' statistics."""
    from statsmodels.tsa.arima.model import ARIMA

    series = price_series()
    results = ARIMA(np.log(series), order=(1, 1, 1), trend="t").fit()
    return package_forecaster(
        results,
        series,
        out_dir,
        name="forecast",
        spec=SPEC,
        description="Daily price forecast with 90% intervals: an ARIMA(1,1,1) with drift on the "
        "log price of a generated crypto-like series (statsmodels).",
        overwrite=True,
    )
