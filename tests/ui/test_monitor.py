"""The live monitor at /ui/monitor: charts fed by the server's own metrics, feedback accuracy moving."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, screenshot

LAST = """(name) => {
    const chart = Chart.getChart(document.getElementById(`chart-${name}`));
    return chart ? Object.fromEntries(chart.data.datasets.map(d => [d.label, d.data.at(-1)])) : null;
}"""
MOST = """(name) => {
    const chart = Chart.getChart(document.getElementById(`chart-${name}`));
    return Object.fromEntries(chart.data.datasets.map(d => [d.label, Math.max(...d.data.filter(Number.isFinite))]));
}"""
DEADLINE_MS = 30_000  # the page samples every 3 s; a busy machine may take a few samples


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
    right, wrong = _predict(api, auth), _predict(api, auth)
    sent = api.post(
        "/feedback", json={"prediction_id": right["id"], "label": right["prediction"]}, headers=auth
    )
    assert sent.json()["correct"] is True
    page.goto("/ui")
    page.get_by_role("link", name="Monitor").click()
    expect(page.locator("canvas")).to_have_count(10)
    page.wait_for_function(f"({LAST})('accuracy')?.iris === 1", timeout=DEADLINE_MS, polling=500)
    other = "virginica" if wrong["prediction"] != "virginica" else "setosa"
    sent = api.post("/feedback", json={"prediction_id": wrong["id"], "label": other}, headers=auth)
    assert sent.json()["correct"] is False
    for _ in range(5):
        _predict(api, auth)
    page.wait_for_function(f"({LAST})('accuracy')?.iris === 0.5", timeout=DEADLINE_MS, polling=500)
    page.wait_for_function(f"({MOST})('predictions').iris > 0", timeout=DEADLINE_MS, polling=500)
    memory = page.evaluate(f"({LAST})('memory')")
    assert memory["MiB"] > 10
    assert "process" in page.locator("main").inner_text()
    screenshot(page, "monitor")
