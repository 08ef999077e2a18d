"""The live monitor at /ui/monitor: charts fed by the server's own metrics, feedback accuracy moving."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.ui.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    say_it_was_wrong,
    screenshot,
    sign_in,
)

LAST = """(name) => {
    const chart = Chart.getChart(document.getElementById(`chart-${name}`));
    return chart ? Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data.at(-1)])) : null;
}"""
MOST = """(name) => {
    const chart = Chart.getChart(document.getElementById(`chart-${name}`));
    return Object.fromEntries(chart.data.datasets.map(d => [d.label, Math.max(...d.data.filter(Number.isFinite))]));
}"""
DEADLINE_S = 30.0  # the page samples every 3 s; a busy machine may take a few samples


def _until(page: Page, script: str, name: str, check: Callable[[Any], bool]) -> Any:
    """Poll ``script(name)`` in the page until ``check`` holds (in Python: the page's CSP forbids
    the eval that Playwright's wait_for_function uses)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = page.evaluate(script, name)
        if value is not None and check(value):
            return value
        assert time.monotonic() < deadline, f"{name} is still {value}"
        page.wait_for_timeout(500)


def _predict(api: httpx.Client, auth: dict[str, str]) -> dict[str, object]:
    row = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
    answer = api.post("/models/iris/predict", json=row, headers=auth)
    assert answer.status_code == 200, answer.text
    prediction: dict[str, object] = answer.json()["predictions"][0]
    return prediction


def test_the_monitor_charts_traffic_and_accuracy_moves_with_feedback(
    page: Page, api: httpx.Client
) -> None:
    token = api.post("/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    right = _predict(api, auth)
    sent = api.post(
        "/feedback", json={"prediction_id": right["id"], "label": right["prediction"]}, headers=auth
    )
    assert sent.json()["correct"] is True
    page.goto("/ui")
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("canvas")).to_have_count(10)
    _until(page, LAST, "accuracy", lambda last: last.get("iris") == 1)
    # In a second tab, as a user: predict iris (setosa) and say it was wrong.
    tab = page.context.new_page()
    tab.goto("/ui/models/iris")
    sign_in(tab)
    tab.get_by_role("button", name="Predict").click()
    feedback = say_it_was_wrong(tab, "virginica")
    expect(feedback).to_contain_text("the prediction was wrong")
    for _ in range(5):
        _predict(api, auth)
    _until(page, LAST, "accuracy", lambda last: last.get("iris") == 0.5)
    _until(page, MOST, "predictions", lambda most: most.get("iris", 0) > 0)
    memory = page.evaluate(LAST, "memory")
    assert memory["MiB"] > 10
    assert "process" in page.locator("main").inner_text()
    screenshot(page, "monitor")
