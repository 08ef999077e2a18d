"""The /metrics page: the seeds' request metrics and per-model, per-row counts."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from servekit.monitoring.metrics import LATENCY_BUCKETS
from tests.conftest import IRIS_SETOSA


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(page.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def test_predictions_are_counted_per_row_not_per_request(client: TestClient) -> None:
    before = sample("servekit_predictions_total", model="iris", version="1")
    client.post("/models/iris/predict", json=IRIS_SETOSA)
    client.post("/models/iris/predict", json={"instances": [IRIS_SETOSA] * 50})
    assert sample("servekit_predictions_total", model="iris", version="1") == before + 51


def test_refused_requests_predict_nothing(client: TestClient) -> None:
    before = sample("servekit_predictions_total", model="iris", version="1")
    client.post("/models/iris/predict", json={"instances": [IRIS_SETOSA, {"sepal_length": "x"}]})
    assert sample("servekit_predictions_total", model="iris", version="1") == before


def test_requests_are_labelled_by_route_template_not_raw_url(client: TestClient) -> None:
    template = "/models/{name}/predict"
    before = sample("api_requests_total", method="POST", path=template, status="404")
    for name in ("a", "b", "c"):
        client.post(f"/models/{name}/predict", json={})
    assert sample("api_requests_total", method="POST", path=template, status="404") == before + 3
    paths = {labels["path"] for labels, _ in scrape(client)["api_requests_total"]}
    assert not {"/models/a/predict", "/models/b/predict"} & paths
    client.get("/no/such/page")
    assert sample("api_requests_total", method="GET", path="<unmatched>", status="404") >= 1


def test_latency_histogram_has_buckets_from_1ms_to_10s(client: TestClient) -> None:
    client.get("/healthz")
    buckets = [
        labels
        for labels, _ in scrape(client)["api_request_latency_seconds_bucket"]
        if labels["path"] == "/healthz" and labels["method"] == "GET"  # one series' buckets
    ]
    bounds = sorted(float(b["le"]) for b in buckets)
    assert bounds[0] == 0.001
    assert bounds[-2] == 10.0
    assert bounds[-1] == float("inf")
    assert len(LATENCY_BUCKETS) >= 12
    count = sample("api_request_latency_seconds_count", method="GET", path="/healthz")
    client.get("/healthz")
    assert sample("api_request_latency_seconds_count", method="GET", path="/healthz") == count + 1


def test_status_codes_are_counted(client: TestClient) -> None:
    path = "/models/iris/predict"
    ok = sample("api_requests_total", method="POST", path=path, status="200")
    bad = sample("api_requests_total", method="POST", path=path, status="422")
    client.post(path, json=IRIS_SETOSA)
    client.post(path, json={"sepal_length": 1})
    assert sample("api_requests_total", method="POST", path=path, status="200") == ok + 1
    assert sample("api_requests_total", method="POST", path=path, status="422") == bad + 1


def test_inference_time_is_observed_per_model_call(client: TestClient) -> None:
    before = sample("servekit_inference_seconds_count", model="taxifare", version="1")
    client.get("/models/taxifare/predict", params={"pickup_datetime": "2013-07-06T17:18:00Z", "pickup_longitude": -73.95,
        "pickup_latitude": 40.78, "dropoff_longitude": -73.98, "dropoff_latitude": 40.77, "passenger_count": 1})  # fmt: skip
    assert sample("servekit_inference_seconds_count", model="taxifare", version="1") == before + 1


def test_out_of_distribution_findings_are_counted_by_feature_and_kind(client: TestClient) -> None:
    labels = {"model": "iris", "version": "1", "feature": "sepal_length", "kind": "out_of_range"}
    before = sample("servekit_ood_warnings_total", **labels)
    client.post(
        "/models/iris/predict", json={"instances": [{**IRIS_SETOSA, "sepal_length": 50}] * 3}
    )
    assert sample("servekit_ood_warnings_total", **labels) == before + 3
    multivariate = {**labels, "feature": "(multivariate)", "kind": "multivariate_outlier"}
    before = sample("servekit_ood_warnings_total", **multivariate)
    client.post(
        "/models/iris/predict",
        json={"sepal_length": 4.5, "sepal_width": 3.0, "petal_length": 6.9, "petal_width": 0.1},
    )
    assert sample("servekit_ood_warnings_total", **multivariate) == before + 1


def test_process_cpu_and_memory_are_exported(client: TestClient) -> None:
    samples = scrape(client)
    assert samples["process_cpu_seconds_total"][0][1] > 0
    assert samples["process_resident_memory_bytes"][0][1] > 0
