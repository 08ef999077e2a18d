"""``/metrics`` of a spawned server: request counts and latency by route template, rows predicted."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import IRIS_SETOSA, TAXI_RIDE

IRIS = {"model": "iris", "version": "1"}


def samples(http: httpx.Client) -> list[Sample]:
    """Every sample the server exposes now."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [s for family in text_string_to_metric_families(response.text) for s in family.samples]


def value(http: httpx.Client, name: str, labels: dict[str, str]) -> float:
    """One sample's value, 0 when the series does not exist (yet)."""
    found = [s.value for s in samples(http) if s.name == name and s.labels == labels]
    assert len(found) <= 1
    return found[0] if found else 0.0


def test_request_count_and_latency_series_are_exposed(http: httpx.Client) -> None:
    assert http.get("/readyz").status_code == 200
    names = {s.name for s in samples(http)}
    assert "api_requests_total" in names
    assert "api_request_latency_seconds_bucket" in names
    assert "api_request_latency_seconds_count" in names


def test_each_request_is_counted_once_by_method_route_and_status(http: httpx.Client) -> None:
    labels = {"method": "GET", "path": "/healthz", "status": "200"}
    before = value(http, "api_requests_total", labels)
    for _ in range(3):
        assert http.get("/healthz").status_code == 200
    assert value(http, "api_requests_total", labels) == before + 3


def test_latency_histogram_counts_each_request(http: httpx.Client) -> None:
    labels = {"method": "GET", "path": "/models"}
    before = value(http, "api_request_latency_seconds_count", labels)
    assert http.get("/models").status_code == 200
    assert value(http, "api_request_latency_seconds_count", labels) == before + 1
    inf_bucket = value(http, "api_request_latency_seconds_bucket", {**labels, "le": "+Inf"})
    assert inf_bucket == before + 1


def test_predictions_grow_by_the_rows_predicted(http: httpx.Client) -> None:
    before = value(http, "servekit_predictions_total", IRIS)
    response = http.post("/models/iris/predict", json={"instances": [IRIS_SETOSA] * 50})
    assert response.status_code == 200
    assert value(http, "servekit_predictions_total", IRIS) == before + 50
    assert http.post("/models/iris/predict", json=IRIS_SETOSA).status_code == 200
    assert value(http, "servekit_predictions_total", IRIS) == before + 51


def test_refused_requests_predict_no_rows(http: httpx.Client) -> None:
    before = value(http, "servekit_predictions_total", IRIS)
    bad = {**IRIS_SETOSA, "sepal_length": "long"}
    response = http.post("/models/iris/predict", json={"instances": [IRIS_SETOSA, bad]})
    assert response.status_code == 422
    assert value(http, "servekit_predictions_total", IRIS) == before


def test_other_models_are_counted_apart(http: httpx.Client) -> None:
    taxi = {"model": "taxifare", "version": "1"}
    iris_before = value(http, "servekit_predictions_total", IRIS)
    taxi_before = value(http, "servekit_predictions_total", taxi)
    assert (
        http.post("/models/taxifare/predict", json={"instances": [TAXI_RIDE] * 3}).status_code
        == 200
    )
    assert value(http, "servekit_predictions_total", taxi) == taxi_before + 3
    assert value(http, "servekit_predictions_total", IRIS) == iris_before


def test_path_label_is_the_route_template_not_the_url(http: httpx.Client) -> None:
    labels = {"method": "POST", "path": "/models/{name}/predict", "status": "404"}
    before = value(http, "api_requests_total", labels)
    response = http.post("/models/zzz-unknown-model/predict", json=IRIS_SETOSA)
    assert response.status_code == 404
    assert http.get("/models/zzz-other-unknown").status_code == 404
    assert http.get("/no/such/page/zzz-raw-url").status_code == 404
    after = samples(http)
    assert [s.value for s in after if s.name == "api_requests_total" and s.labels == labels] == [
        before + 1
    ]
    assert any(
        s.name == "api_requests_total"
        and s.labels == {"method": "GET", "path": "/models/{name}", "status": "404"}
        for s in after
    )
    paths = {s.labels["path"] for s in after if "path" in s.labels}
    assert not [p for p in paths if "zzz" in p], paths


def test_per_model_routes_keep_their_own_path(http: httpx.Client) -> None:
    labels = {"method": "POST", "path": "/models/iris/predict", "status": "200"}
    before = value(http, "api_requests_total", labels)
    assert http.post("/models/iris/predict", json=IRIS_SETOSA).status_code == 200
    assert value(http, "api_requests_total", labels) == before + 1


def test_metrics_scrapes_are_counted_under_their_own_path(http: httpx.Client) -> None:
    labels = {"method": "GET", "path": "/metrics", "status": "200"}
    first = value(http, "api_requests_total", labels)
    second = value(http, "api_requests_total", labels)
    # The first scrape is counted once it is answered, so the second one sees it.
    assert second == first + 1
