"""A real Prometheus scrapes a live servekit; every dashboard and alert query must return data.

The stack, all on 127.0.0.1: an API in distributed mode (Redis) with one ``servekit worker``, an
API running models in-process with two server processes, node-exporter, and Prometheus with the
committed alert rules and the committed scrape jobs (targets pointed at these processes,
scraped every second). Traffic covers successes, out-of-distribution rows, 4xx, 503 and 504
answers, and labelled feedback.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from servekit.ids import new_id
from tests.conftest import IRIS_SETOSA, TAXI_RIDE
from tests.deploy.queries import Query, alert_queries, alert_rules, dashboard_queries
from tests.deploy.tools import PROMETHEUS_DIR, binary, load_yaml
from tests.e2e.server import free_port, start_server
from tests.queue.processes import start_worker

DATA_TIMEOUT = 45.0
"""Seconds every query has to return data once traffic starts."""

# Queries that cannot return data on this machine, each with the reason. They are still sent
# to Prometheus, which must accept them (a syntax error is a 400).
NO_DATA_HERE = {
    "container_cpu_usage_seconds_total": "cAdvisor: Debian has no cadvisor package, and it needs a container runtime to report containers",
    "container_memory_working_set_bytes": "cAdvisor: Debian has no cadvisor package, and it needs a container runtime to report containers",
}
LOGQL_NOT_HERE = "Loki is not in Debian's packages and Grafana cannot run here: LogQL is checked by tests/deploy/test_grafana.py only"
JOBS_NOT_HERE = {
    "cadvisor": NO_DATA_HERE["container_cpu_usage_seconds_total"],
    "loki": LOGQL_NOT_HERE,
    "grafana": "Grafana cannot run here",
}
EXPECTED_PENDING = ("ServekitHighErrorRatio", "ServekitBatcherSaturated")
"""Alerts the test's traffic sets going (their `for` keeps them pending during the test)."""
IRIS_OOD = {**IRIS_SETOSA, "sepal_length": 50.0}
PASSWORD = "a long and unusual passphrase 7391"


@contextmanager
def process(command: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A program that is ready once ``ready_url`` answers 200; stopped with SIGTERM after."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prometheus_config(targets: dict[str, list[str]]) -> dict[str, Any]:
    """The committed prometheus.yml, scraping every second, with its targets on this machine."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    jobs = []
    for job in config["scrape_configs"]:
        name = job["job_name"]
        if name in JOBS_NOT_HERE:
            continue
        assert name in targets, f"the test has no target for the committed job {name!r}"
        jobs.append({"job_name": name, "static_configs": [{"targets": targets[name]}]})
    config["scrape_configs"] = jobs
    return config


class Traffic:
    """Requests of every kind to both APIs, a few a second, until stopped."""

    def __init__(self, distributed: str, inprocess: str) -> None:
        self.distributed = httpx.Client(base_url=distributed, timeout=10)
        self.inprocess = httpx.Client(base_url=inprocess, timeout=10)
        self.stopping = threading.Event()
        self.statuses: dict[int, int] = {}
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _send(self, client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
        response = client.request(method, url, **kw)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def once(self) -> None:
        """One round: good and out-of-distribution rows on both APIs, and every kind of refusal."""
        for client in (self.distributed, self.inprocess):
            self._send(client, "POST", "/models/iris/predict", json=IRIS_SETOSA)
            self._send(client, "POST", "/models/iris/predict", json=IRIS_OOD)
            self._send(client, "GET", "/models/taxifare/predict", params=TAXI_RIDE)
        api = self.inprocess
        self._send(
            api, "POST", "/models/iris/predict", json={"instances": [IRIS_SETOSA] * 3}
        )  # 503
        self._send(api, "POST", "/models/iris/predict", json=IRIS_SETOSA, headers={"X-Request-Timeout": "0.000001"})  # 504  # fmt: skip
        self._send(api, "POST", "/models/iris/predict", json={"sepal_length": "x"})  # 422
        self._send(api, "GET", "/models/nope")  # 404

    def _loop(self) -> None:
        while not self.stopping.wait(0.3):
            self.once()

    def feedback(self) -> None:
        """A user, a token, predictions of theirs: a label that disagrees with a classifier's,
        and a true value for a regression's."""
        api = self.inprocess
        user = {"name": "Ops", "email": f"ops-{new_id()[:8]}@example.com", "password": PASSWORD}
        assert api.post("/users", json=user).status_code == 201
        token = api.post("/auth/token", data={"username": user["email"], "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        iris = api.post("/models/iris/predict", json=IRIS_SETOSA, headers=headers).json()
        fare = api.get("/models/taxifare/predict", params=TAXI_RIDE, headers=headers).json()
        for body in (
            {"prediction_id": iris["predictions"][0]["id"], "label": "virginica"},
            {"prediction_id": fare["predictions"][0]["id"], "value": 12.5},
        ):
            deadline = time.monotonic() + 10
            # The prediction log writes in the background: the prediction is found within a flush.
            while (status := api.post("/feedback", json=body, headers=headers).status_code) == 404:
                assert time.monotonic() < deadline, "the prediction never reached the log"
                time.sleep(0.2)
            assert status == 201

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.distributed.close()
        self.inprocess.close()


def ask(prometheus: httpx.Client, expr: str) -> list[Any]:
    """An instant query's result; a query Prometheus refuses fails the test."""
    response = prometheus.post("/api/v1/query", data={"query": expr})
    assert response.status_code == 200, f"Prometheus refused {expr!r}: {response.text}"
    result: list[Any] = response.json()["data"]["result"]
    return result


def no_data_reason(query: Query) -> str | None:
    """Why a query cannot return data here, or None when it must."""
    if query.language == "logql":
        return LOGQL_NOT_HERE
    return next((why for metric, why in NO_DATA_HERE.items() if metric in query.expr), None)


def test_every_dashboard_and_alert_query_returns_data(
    examples_dir: Path, tmp_path: Path, prefix: str, redis_url: str
) -> None:
    prometheus_bin = binary("prometheus")
    node_exporter = binary("prometheus-node-exporter")
    queries = dashboard_queries() + alert_queries()
    must = [q for q in queries if no_data_reason(q) is None]
    cannot = [q for q in queries if no_data_reason(q) is not None]
    assert len(must) > 30, "the dashboards and alerts have fewer queries than expected"
    queue_env = {"SERVEKIT_REDIS_URL": redis_url, "SERVEKIT_QUEUE__PREFIX": prefix}

    with ExitStack() as stack:
        worker = start_worker(examples_dir, tmp_path, queue_env)
        stack.callback(worker.stop)
        distributed = start_server(examples_dir, tmp_path, env=queue_env)
        stack.callback(distributed.stop)
        inprocess_env = {"SERVEKIT_WORKERS": "2", "SERVEKIT_LIMITS__MAX_QUEUE_ROWS": "2"}
        inprocess = start_server(examples_dir, tmp_path, env=inprocess_env)
        stack.callback(inprocess.stop)
        node_port, prom_port = free_port(), free_port()
        stack.enter_context(process(
            [node_exporter, f"--web.listen-address=127.0.0.1:{node_port}",
             "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo"],
            f"http://127.0.0.1:{node_port}/metrics", tmp_path / "node-exporter.log",
        ))  # fmt: skip
        config = prometheus_config({
            "prometheus": [f"127.0.0.1:{prom_port}"],
            "servekit-api": [f"127.0.0.1:{distributed.port}", f"127.0.0.1:{inprocess.port}"],
            "servekit-worker": [f"127.0.0.1:{worker.metrics_port}"],
            "node": [f"127.0.0.1:{node_port}"],
        })  # fmt: skip
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        stack.enter_context(process(
            [prometheus_bin, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
            f"http://127.0.0.1:{prom_port}/-/ready", tmp_path / "prometheus.log",
        ))  # fmt: skip
        api = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=5))
        traffic = stack.enter_context(Traffic(distributed.url, inprocess.url))
        traffic.feedback()

        waiting = list(must)
        deadline = time.monotonic() + DATA_TIMEOUT
        while waiting and time.monotonic() < deadline:
            time.sleep(1)
            waiting = [q for q in waiting if not ask(api, q.expr)]
        for query in cannot:
            ask(api, query.expr) if query.language == "promql" else None
        # The traffic has over 1% of 5xx answers and queue_full refusals: these alerts get going.
        while True:
            groups = api.get("/api/v1/rules").json()["data"]["groups"]
            states = {r["name"]: r for g in groups for r in g["rules"]}
            expected = [states[name]["state"] for name in EXPECTED_PENDING]
            if set(expected) <= {"pending", "firing"} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cpu = ask(api, 'process_cpu_seconds_total{job="servekit-api"}')

    assert not waiting, "queries that returned no data:\n" + "\n".join(
        f"  {q.where}: {q.expr}" for q in waiting
    )
    assert {500, 503, 504, 422, 404} & set(traffic.statuses) >= {503, 504, 422, 404}
    # One series for the one-process API, one per process (by pid) for the other.
    assert sorted("pid" in s["metric"] for s in cpu) == [False, True, True], cpu
    assert set(states) == {r["alert"] for r in alert_rules()}
    assert all(r["health"] == "ok" for r in states.values()), states
    assert set(expected) <= {"pending", "firing"}, {n: states[n] for n in EXPECTED_PENDING}
    assert states["ServekitApiDown"]["state"] == "inactive"
