"""The forecast example served in process, and histories cut from its own training series."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from servekit import Settings, create_app
from servekit.examples.forecast import price_series

PATH = "/models/forecast/predict"


@pytest.fixture
def forecaster(forecast_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app serving the forecast example alone."""
    settings = Settings(model_repository=forecast_dir, data_dir=tmp_path, allow_anonymous=True)
    with TestClient(create_app(settings)) as client:
        yield client


def history(days: int = 60, *, end: str | None = None, scale: float = 1.0) -> dict[str, Any]:
    """The last ``days`` of the training prices (times ``scale``), dated to end on ``end``."""
    prices = price_series().iloc[-days:] * scale
    dates = prices.index if end is None else pd.date_range(end=end, periods=days, freq="D")
    return {"dates": [d.strftime("%Y-%m-%d") for d in dates], "values": prices.tolist()}
