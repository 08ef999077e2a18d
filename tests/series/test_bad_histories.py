"""Each way a forecast request can be wrong is a 422 that says what is wrong, and where."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.series.conftest import PATH, history


def _with(change: dict[str, Any], days: int = 40) -> dict[str, Any]:
    sent = history(days, end="2026-11-30")
    sent.update(change)
    return {"horizon": 3, "history": sent}


def _dates(*edits: tuple[int, str]) -> dict[str, Any]:
    sent = history(40, end="2026-11-30")
    for i, date in edits:
        sent["dates"][i] = date
    return {"horizon": 3, "history": sent}


def _gap(*, after: int, days: int) -> dict[str, Any]:
    """40 days to 2026-11-30, with ``days`` missing after the first ``after + 1``."""
    body = _with({})
    dates = pd.to_datetime(body["history"]["dates"])
    shifted = [d - pd.Timedelta(days=days) if i <= after else d for i, d in enumerate(dates)]
    body["history"]["dates"] = [d.strftime("%Y-%m-%d") for d in shifted]
    return body


BAD = [
    pytest.param(
        _dates((11, "2026-11-01")),
        "duplicate_date",
        "the date 2026-11-01 is given twice (dates[10] and dates[11])",
        id="duplicate-date",
    ),
    pytest.param(
        _dates((10, "2026-11-02"), (11, "2026-11-01")),
        "unsorted_dates",
        "dates[11] (2026-11-01) comes after dates[10] (2026-11-02)",
        id="unsorted-dates",
    ),
    pytest.param(
        _gap(after=9, days=2),
        "date_gap",
        "a gap in the history: 2026-10-30, 2026-10-31 missing between dates[9] (2026-10-29) and "
        "dates[10] (2026-11-01)",
        id="gap",
    ),
    pytest.param(
        _dates((0, "2026-10-22T12:00:00Z")),
        "off_frequency",
        "dates[1] (2026-10-23) is not a whole number of steps (D) after dates[0] "
        "(2026-10-22T12:00:00+00:00)",
        id="off-frequency",
    ),
    pytest.param(
        {"horizon": 3, "history": history(10)},
        "too_short",
        "List should have at least 30 items",
        id="too-short",
    ),
    pytest.param({"horizon": 31}, "less_than_equal", "less than or equal to 30", id="horizon-over"),
    pytest.param(
        {"horizon": 0}, "greater_than_equal", "greater than or equal to 1", id="horizon-0"
    ),
    pytest.param({"horizon": 2.5}, "int_from_float", "fractional part", id="horizon-fraction"),
    pytest.param({}, "missing", "missing field 'horizon'", id="no-horizon"),
    pytest.param(
        _with({"values": [*history(39)["values"], -5.0]}),
        "not_positive",
        "values[39] is -5.0: this model forecasts the logarithm of the price",
        id="negative-price",
    ),
    pytest.param(
        _with({"values": history(41)["values"]}),
        "length_mismatch",
        "40 dates for 41 values",
        id="length-mismatch",
    ),
    pytest.param(
        _with({"start": "2026-10-22"}),
        "dates_or_start",
        "give the history's dates, or its start, not both",
        id="dates-and-start",
    ),
    pytest.param(
        _with({"frequency": "h"}),
        "frequency",
        "the model forecasts a series of frequency D, not h",
        id="frequency",
    ),
    pytest.param(
        _dates((0, "1792540800")),
        "value_error",
        "not a number (seconds since 1970 are not read)",
        id="epoch-date",
    ),
    pytest.param(
        _with({"values": ["40000", *history(39)["values"]]}),
        "float_type",
        "Input should be a valid number",
        id="text-value",
    ),
    pytest.param(
        {"horizon": 3, "history": history(40), "extra": 1},
        "extra_forbidden",
        "unknown field 'extra'",
        id="unknown-field",
    ),
]


@pytest.mark.parametrize(("body", "kind", "message"), BAD)
def test_a_bad_request_is_a_422_naming_the_problem(
    forecaster: TestClient, body: dict[str, Any], kind: str, message: str
) -> None:
    answer = forecaster.post(PATH, json=body)
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert kind in {p["type"] for p in problems}, problems
    assert message in answer.json()["message"]


def test_values_that_are_not_finite_are_refused(forecaster: TestClient) -> None:
    values = ", ".join(str(v) for v in history(39)["values"])
    for word in ("NaN", "Infinity", "-Infinity"):
        body = (
            f'{{"horizon": 2, "history": {{"start": "2026-10-01", "values": [{values}, {word}]}}}}'
        )
        answer = forecaster.post(PATH, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, answer.text
        (problem,) = answer.json()["detail"]
        assert problem["type"] == "finite_number"
        assert problem["loc"] == ["body", "history", "values", 39]


def test_an_overflowing_history_is_a_422_not_a_500(forecaster: TestClient) -> None:
    huge = {"start": "2026-10-01", "values": [1e308] * 40}
    answer = forecaster.post(PATH, json={"horizon": 30, "history": huge})
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["error"] in ("non_finite_output", "invalid_input")
