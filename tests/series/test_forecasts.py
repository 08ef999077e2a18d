"""Forecasts of the example through the real app: dated points with intervals, from the training
series' end or from a history a request sends, one series a row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_auth import bearer, register, token_for
from tests.series.conftest import PATH, history


def points(answer: dict[str, Any], row: int = 0) -> list[dict[str, Any]]:
    prediction: list[dict[str, Any]] = answer["predictions"][row]["prediction"]
    return prediction


def test_a_week_on_from_the_training_series_is_seven_dated_points_within_their_intervals(
    forecaster: TestClient,
) -> None:
    answer = forecaster.post(PATH, json={"horizon": 7})
    assert answer.status_code == 200, answer.text
    week = points(answer.json())
    assert [p["date"] for p in week] == [f"2026-07-0{d}" for d in range(1, 8)]
    assert all(p["lower"] < p["forecast"] < p["upper"] for p in week)
    widths = [p["upper"] - p["lower"] for p in week]
    assert widths == sorted(widths)  # the further ahead, the less sure
    row = answer.json()["predictions"][0]
    assert row["interval"] == 0.9
    assert row["warnings"] == []


def test_a_history_sent_is_forecast_on_from_its_own_last_date(forecaster: TestClient) -> None:
    sent = history(60, end="2026-11-30", scale=1.2)
    answer = forecaster.post(PATH, json={"horizon": 3, "history": sent})
    assert answer.status_code == 200, answer.text
    three = points(answer.json())
    assert [p["date"] for p in three] == ["2026-12-01", "2026-12-02", "2026-12-03"]
    last = sent["values"][-1]
    assert all(0.8 * last < p["forecast"] < 1.2 * last for p in three)
    # The same values from a start date, with the model's frequency said.
    by_start = {"start": "2026-10-02", "values": sent["values"], "frequency": "D"}
    again = forecaster.post(PATH, json={"horizon": 3, "history": by_start})
    assert points(again.json()) == three


def test_each_series_of_a_batch_and_of_concurrent_requests_is_forecast_on_its_own(
    forecaster: TestClient,
) -> None:
    bodies = [
        {"horizon": 2, "history": history(40, end="2026-11-30", scale=s)} for s in (0.7, 1, 1.3)
    ]
    alone = [points(forecaster.post(PATH, json=b).json()) for b in bodies]
    batch = forecaster.post(PATH, json={"instances": bodies}).json()
    assert [points(batch, i) for i in range(3)] == alone
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(lambda b: forecaster.post(PATH, json=b).json(), bodies * 2))
    assert [points(a) for a in together] == alone * 2


def test_a_history_unlike_the_training_series_is_warned_about(forecaster: TestClient) -> None:
    far = forecaster.post(PATH, json={"horizon": 1, "history": history(30, scale=10)}).json()
    (warning,) = far["predictions"][0]["warnings"]
    assert (warning["kind"], warning["feature"]) == ("range", "price")
    assert "in the training series it stayed between" in warning["message"]
    jumpy = history(30)
    jumpy["values"][15] *= 1.5  # a 50% day, up then down again
    found = forecaster.post(PATH, json={"horizon": 1, "history": jumpy}).json()
    kinds = {w["kind"] for w in found["predictions"][0]["warnings"]}
    assert kinds == {"return_range"}


def test_the_model_page_and_the_docs_describe_the_series_with_a_working_example(
    forecaster: TestClient,
) -> None:
    page = forecaster.get("/models/forecast").json()
    assert page["series"]["frequency"] == "D"
    assert page["series"]["max_horizon"] == 30
    recent = page["training_series"].pop("recent")
    assert page["training_series"] == {"start": "2023-07-01", "end": "2026-06-30", "count": 1096}
    # The end of the training series, dated: what a forecast without a history goes on from.
    assert len(recent["dates"]) == len(recent["values"]) == 90
    assert recent["dates"][0] == "2026-04-02"
    assert recent["dates"][-1] == "2026-06-30"
    example = page["example"]
    assert forecaster.post(PATH, json=example).status_code == 200
    schema = forecaster.get("/openapi.json").json()
    names = set(schema["components"]["schemas"])
    assert {"ForecastV1Forecast", "ForecastV1History"} <= names
    history_schema = schema["components"]["schemas"]["ForecastV1History"]
    assert history_schema["properties"]["values"]["minItems"] == 30
    assert forecaster.get(PATH).status_code == 405


def test_the_log_keeps_a_summary_of_the_history_and_feedback_takes_the_true_value(
    forecaster: TestClient,
) -> None:
    register(forecaster, "ada@example.com")
    ada = bearer(token_for(forecaster, "ada@example.com"))
    sent = history(100, end="2026-11-30")
    answer = forecaster.post(PATH, json={"horizon": 2, "history": sent}, headers=ada).json()
    prediction_id = answer["predictions"][0]["id"]
    logged = forecaster.get(f"/predictions/{prediction_id}", headers=ada).json()
    inputs = logged["inputs"]
    assert inputs["horizon"] == 2
    assert inputs["history"]["start"] == "2026-08-23"
    assert inputs["history"]["length"] == 100
    assert inputs["history"]["last_values"] == sent["values"][-64:]
    assert logged["output"]["prediction"] == points(answer)
    label = forecaster.post(
        "/feedback", json={"prediction_id": prediction_id, "label": "up"}, headers=ada
    )
    assert label.status_code == 422
    assert "send the true value in `value`" in label.json()["message"]
    first = points(answer)[0]["forecast"]
    true_value = {"prediction_id": prediction_id, "value": first + 50}
    given = forecaster.post("/feedback", json=true_value, headers=ada)
    assert given.status_code == 201, given.text
    metrics = forecaster.get("/metrics").text
    assert 'servekit_feedback_mean_absolute_error{model="forecast",version="1"} 50.0' in metrics
