"""The API in distributed mode, in-process: what callers see when Redis is not there."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import IRIS_SETOSA, AppFactory
from tests.e2e.server import free_port


def test_without_redis_predictions_get_503_with_retry_after_and_the_server_is_not_ready(
    make_app: AppFactory, prefix: str
) -> None:
    app = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0", queue={"prefix": prefix})
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["queue"] == "unreachable"
        r = client.post("/models/iris/predict", json=IRIS_SETOSA)
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert "Redis" in r.json()["message"]
        assert "servekit_redis_up 0.0" in client.get("/metrics").text


def test_with_redis_the_api_loads_no_model_and_reports_its_queues(
    make_app: AppFactory, redis_url: str, prefix: str
) -> None:
    app = make_app(redis_url=redis_url, queue={"prefix": prefix})
    with TestClient(app) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready"
        assert ready["queue"] == "ok"
        assert ready["workers"] == 0
        served = app.state.served
        assert all(not hasattr(s.runtime, "estimator") for s in served.all())
        text = client.get("/metrics").text
        assert 'servekit_queue_jobs{model="iris",state="waiting",version="1"} 0.0' in text


def test_with_no_worker_alive_predictions_get_503_at_once_and_readyz_names_the_models(
    make_app: AppFactory, redis_url: str, prefix: str
) -> None:
    app = make_app(redis_url=redis_url, queue={"prefix": prefix})
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200  # the API is ready: it answers for those models at once
        assert set(ready.json()["models_without_worker"]) >= {"iris:1", "taxifare:1"}
        r = client.post("/models/iris/predict", json=IRIS_SETOSA)
        assert r.status_code == 503
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"] == "overloaded"
        assert "servekit worker" in r.json()["message"]
