"""Seed 002's model: a taxi-fare pipeline on a DataFrame, trained on generated rides.

No taxi data can be downloaded here, so rides are generated and priced by this formula (in USD):

    fare = 2.50                                  flag drop
         + 1.75 * distance_km                    distance (haversine, pickup to drop-off)
         + 0.50 * minutes                        time, at 18 km/h in rush hours (7-10, 16-19 on weekdays), 26 km/h else
         + 1.00 if 20:00 <= hour or hour < 6     night surcharge
         + 0.50 * (passenger_count - 1)          extra passengers
         + 0.08 * (year - 2009) * distance_km    yearly increase
         + noise ~ Normal(0, 0.75), and never below 2.50

Pickups fall in Manhattan's bounding box (longitude -74.02..-73.93, latitude 40.70..40.82),
drop-offs within about 8 km of them, between 2009 and 2015, with 1 to 6 passengers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from servekit.repository.loader import ModelFolder
from servekit.repository.package import package_model

COLUMNS = [
    "pickup_datetime",
    "pickup_longitude",
    "pickup_latitude",
    "dropoff_longitude",
    "dropoff_latitude",
    "passenger_count",
]
EARTH_RADIUS_KM = 6371.0


def haversine_km(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle distance in km (vectorised)."""
    lon1, lat1, lon2, lat2 = (
        np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def _rush(hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    return (weekday < 5) & (((hour >= 7) & (hour < 10)) | ((hour >= 16) & (hour < 19)))


def fare(rides: pd.DataFrame, noise: np.ndarray | None = None) -> Any:
    """The documented fare formula (without noise unless given)."""
    when = pd.to_datetime(rides["pickup_datetime"], utc=True)
    hour, weekday, year = (
        when.dt.hour.to_numpy(),
        when.dt.day_of_week.to_numpy(),
        when.dt.year.to_numpy(),
    )
    km = haversine_km(
        rides["pickup_longitude"],
        rides["pickup_latitude"],
        rides["dropoff_longitude"],
        rides["dropoff_latitude"],
    )
    minutes = km / np.where(_rush(hour, weekday), 18.0, 26.0) * 60
    night = (hour >= 20) | (hour < 6)
    price = 2.5 + 1.75 * km + 0.5 * minutes + night * 1.0
    price += 0.5 * (rides["passenger_count"].to_numpy() - 1) + 0.08 * (year - 2009) * km
    if noise is not None:
        price = price + noise
    return np.maximum(price, 2.5)


def features(rides: pd.DataFrame) -> pd.DataFrame:
    """What the regressor sees: distance, time of day and week, year, passengers."""
    when = pd.to_datetime(rides["pickup_datetime"], utc=True)
    km = haversine_km(
        rides["pickup_longitude"],
        rides["pickup_latitude"],
        rides["dropoff_longitude"],
        rides["dropoff_latitude"],
    )
    return pd.DataFrame(
        {
            "distance_km": km,
            "hour": when.dt.hour.to_numpy(),
            "weekday": when.dt.day_of_week.to_numpy(),
            "year": when.dt.year.to_numpy(),
            "passenger_count": rides["passenger_count"].to_numpy(),
        }
    )


def generate_rides(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``n`` rides and their fares, reproducibly."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2009-01-01", tz="UTC").value // 10**9
    end = pd.Timestamp("2015-12-31 23:59:59", tz="UTC").value // 10**9
    pickup_lon = rng.uniform(-74.02, -73.93, n)
    pickup_lat = rng.uniform(40.70, 40.82, n)
    rides = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime(rng.integers(start, end, n), unit="s", utc=True),
            "pickup_longitude": pickup_lon,
            "pickup_latitude": pickup_lat,
            "dropoff_longitude": pickup_lon + rng.normal(0, 0.03, n).clip(-0.09, 0.09),
            "dropoff_latitude": pickup_lat + rng.normal(0, 0.03, n).clip(-0.07, 0.07),
            "passenger_count": rng.integers(1, 7, n).astype("int64"),
        }
    )
    return rides, pd.Series(fare(rides, rng.normal(0, 0.75, n)), name="fare_amount")


def train(out_dir: Path) -> ModelFolder:
    """Fit the pipeline on generated rides and package it."""
    rides, fares = generate_rides()
    model = make_pipeline(
        FunctionTransformer(features), HistGradientBoostingRegressor(max_iter=200, random_state=0)
    ).fit(rides, fares)
    coordinate = {"minimum": -180.0, "maximum": 180.0}
    latitude = {"minimum": -90.0, "maximum": 90.0}
    overrides: dict[str, dict[str, Any]] = {
        "pickup_datetime": {
            "description": "When the ride started",
            "example": "2013-07-06 17:18:00 UTC",
        },
        "pickup_longitude": {"description": "Pickup longitude (degrees)", **coordinate},
        "pickup_latitude": {"description": "Pickup latitude (degrees)", **latitude},
        "dropoff_longitude": {"description": "Drop-off longitude (degrees)", **coordinate},
        "dropoff_latitude": {"description": "Drop-off latitude (degrees)", **latitude},
        "passenger_count": {"description": "Passengers in the cab", "minimum": 1, "maximum": 8},
    }
    return package_model(
        model,
        rides,
        out_dir,
        name="taxifare",
        version="1",
        description="New York taxi fare in USD (a scikit-learn pipeline on a DataFrame, trained on generated rides).",
        overrides=overrides,
        extra={"outputs": {"name": "fare_amount", "unit": "USD"}},
        overwrite=True,
    )
