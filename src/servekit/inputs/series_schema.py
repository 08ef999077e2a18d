"""A forecaster's JSON body: a horizon, and the recent history (or none), checked step by step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from servekit.inputs.tabular_schema import IsoDatetime, class_name, one_or_many, whole_number
from servekit.repository.manifest import Manifest
from servekit.repository.series import SeriesInput

Value = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def show(moment: datetime | pd.Timestamp) -> str:
    """A date as the answer and messages write it: the day alone at midnight, else ISO 8601 in UTC."""
    stamp = pd.Timestamp(moment)
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.tz_localize(UTC).isoformat() if stamp.tzinfo is None else stamp.isoformat()


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def check_dates(dates: list[datetime], spec: SeriesInput) -> datetime:
    """The first date of a history whose dates are in order, unique and one step apart."""
    index = pd.DatetimeIndex([_naive_utc(d) for d in dates])
    duplicated = index.duplicated()
    if duplicated.any():
        second = int(np.argmax(duplicated))
        earlier = int(np.nonzero(index[:second] == index[second])[0][0])
        raise _error(
            "duplicate_date",
            f"the date {show(index[second])} is given twice (dates[{earlier}] and dates[{second}])",
        )
    steps = index[1:] < index[:-1]
    if steps.any():
        i = int(np.argmax(steps)) + 1
        raise _error(
            "unsorted_dates",
            f"dates must be in increasing order: dates[{i}] ({show(index[i])}) comes after "
            f"dates[{i - 1}] ({show(index[i - 1])})",
        )
    expected = pd.date_range(index[0], periods=len(index), freq=spec.frequency)
    off = np.nonzero(index != expected)[0]
    if off.size:
        i = int(off[0])
        if i == 0:
            raise _error(
                "off_frequency",
                f"dates[0] ({show(index[0])}) is not on the model's frequency ({spec.frequency})",
            )
        between = pd.date_range(index[i - 1], index[i], freq=spec.frequency)
        if between[-1] == index[i]:  # on the frequency, but steps are missing
            missing = ", ".join(show(d) for d in between[1:-1][:5])
            more = f" and {len(between) - 7} more" if len(between) > 7 else ""
            raise _error(
                "date_gap",
                f"a gap in the history: {missing}{more} missing between dates[{i - 1}] "
                f"({show(index[i - 1])}) and dates[{i}] ({show(index[i])}); the model's "
                f"frequency is {spec.frequency}",
            )
        raise _error(
            "off_frequency",
            f"dates[{i}] ({show(index[i])}) is not a whole number of steps ({spec.frequency}) "
            f"after dates[{i - 1}] ({show(index[i - 1])})",
        )
    first: datetime = index[0].to_pydatetime()
    return first


def check_start(start: datetime, spec: SeriesInput) -> datetime:
    """``start`` as a naive UTC time, if it is on the model's frequency."""
    moment = _naive_utc(start)
    if pd.date_range(moment, periods=1, freq=spec.frequency)[0] != moment:
        raise _error(
            "off_frequency",
            f"start ({show(moment)}) is not on the model's frequency ({spec.frequency})",
        )
    return moment


class HistoryBase(BaseModel):
    """The recent values of the series, with their dates or the date of the first."""

    model_config = ConfigDict(extra="forbid")
    spec: ClassVar[SeriesInput]

    dates: list[IsoDatetime] | None = Field(
        default=None, description="The date of each value (ISO 8601), in increasing order."
    )
    start: IsoDatetime | None = Field(
        default=None, description="Instead of dates: the first value's date (ISO 8601)."
    )
    frequency: str | None = Field(
        default=None, description="The values' step, which must be the model's (optional)."
    )
    values: list[Value]
    _first: datetime | None = PrivateAttr(default=None)

    @property
    def first(self) -> datetime | None:
        """The first value's date (naive, in UTC), once checked."""
        return self._first

    @model_validator(mode="after")
    def _check(self) -> Self:
        spec = self.spec
        if (self.dates is None) == (self.start is None):
            raise _error("dates_or_start", "give the history's dates, or its start, not both")
        if self.frequency is not None and self.frequency != spec.frequency:
            raise _error(
                "frequency",
                f"the model forecasts a series of frequency {spec.frequency}, not {self.frequency}",
            )
        if spec.transform == "log":
            bad = [i for i, v in enumerate(self.values) if v <= 0]
            if bad:
                raise _error(
                    "not_positive",
                    f"values[{bad[0]}] is {self.values[bad[0]]}: this model forecasts the "
                    f"logarithm of the {spec.value_name}, so every value must be positive",
                )
        if self.dates is not None:
            if len(self.dates) != len(self.values):
                raise _error(
                    "length_mismatch",
                    f"{len(self.dates)} dates for {len(self.values)} values: give one date a value",
                )
            self._first = check_dates(self.dates, spec)
        elif self.start is not None:
            self._first = check_start(self.start, spec)
        return self


def _models(manifest: Manifest, max_rows: int) -> tuple[type[BaseModel], type[BaseModel]]:
    spec = manifest.series
    assert spec is not None
    value = f"the {spec.value_name}" + (f" in {spec.unit}" if spec.unit else "")
    history: Any = create_model(
        class_name(manifest, "History"),
        __base__=HistoryBase,
        values=(
            list[Value],
            Field(
                min_length=spec.min_history,
                max_length=spec.max_history,
                description=f"The series' recent values ({value}), oldest first: "
                f"{spec.min_history} to {spec.max_history}.",
            ),
        ),
    )
    history.spec = spec
    horizon = Annotated[
        int, Field(strict=True, ge=1, le=spec.max_horizon), BeforeValidator(whole_number)
    ]
    request = create_model(
        class_name(manifest, "Forecast"),
        __config__=ConfigDict(extra="forbid"),
        horizon=(
            horizon,
            Field(
                description=f"How many steps ({spec.frequency}) to forecast: 1 to {spec.max_horizon}."
            ),
        ),
        history=(
            history | None,
            Field(
                default=None,
                description="The recent history to forecast on from; without it, the forecast "
                "starts after the training series.",
            ),
        ),
    )
    batch = create_model(
        class_name(manifest, "ForecastBatch"),
        __config__=ConfigDict(extra="forbid"),
        instances=(list[request], Field(min_length=1, max_length=max_rows)),
    )
    return request, batch


def body_type(manifest: Manifest, max_rows: int) -> Any:
    """One forecast request, or ``{"instances": [...]}`` with 1 to ``max_rows`` of them."""
    return one_or_many(*_models(manifest, max_rows))
