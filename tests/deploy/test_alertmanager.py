"""Alertmanager: the shipped configuration checked by amtool, and a real alert delivered through it.

Prometheus (the committed prometheus.yml and alerts.yml) scrapes an API target that is down;
ServekitApiDown fires; Alertmanager (the committed alertmanager.yml, put in place by the compose
service's own start-up command) delivers it to a webhook receiver written for this test.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from servekit.loadtest.deployments import free_port
from tests.deploy.tools import DEPLOY, PROMETHEUS_DIR, binary, load_yaml, run

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
DELIVERY_TIMEOUT = 60.0


def test_the_shipped_configuration_is_valid() -> None:
    out = run(binary("amtool"), "check-config", str(CONFIG)).stdout
    assert "SUCCESS" in out
    assert "3 inhibit rules" in out


def test_critical_and_warning_alerts_reach_the_operators() -> None:
    for labels in ("alertname=ServekitApiDown severity=critical", "alertname=X severity=warning"):
        done = run(
            binary("amtool"), "config", "routes", "test", f"--config.file={CONFIG}", *labels.split()
        )
        assert done.stdout.strip() == "operators"


def rendered(tmp_path: Path, url: str) -> Path:
    """alertmanager.yml as the compose service's start-up command writes it, run by /bin/sh."""
    service = load_yaml(DEPLOY / "compose.yaml")["services"]["alertmanager"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    # Compose turns `$$` into `$`; the container's paths become this test's.
    script = service["command"][0].replace("$$", "$")
    target = tmp_path / "alertmanager.yml"
    script = script.replace("/etc/alertmanager/alertmanager.yml", str(CONFIG))
    script = script.replace("/tmp/alertmanager.yml", str(target))
    script = script.split("&& exec", 1)[0]
    subprocess.run(
        ["/bin/sh", "-c", script], env={**os.environ, "ALERT_WEBHOOK_URL": url}, check=True
    )
    return target


def test_the_compose_command_puts_the_webhook_of_the_env_file_in_place(tmp_path: Path) -> None:
    url = "https://hooks.example.com/services/T000/B000/abc-DEF_123"
    target = rendered(tmp_path, url)
    receiver = yaml.safe_load(target.read_text())["receivers"][0]
    assert receiver["webhook_configs"][0]["url"] == url
    run(binary("amtool"), "check-config", str(target))


class Webhook:
    """An HTTP receiver that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/servekit"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def program(command: list[str], ready: str, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"{command[0]} exited:\n{log.read_text()}"
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{command[0]} not ready:\n{log.read_text()}"
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_an_alert_fired_by_prometheus_reaches_the_webhook_through_alertmanager(
    tmp_path: Path,
) -> None:
    webhook = Webhook()
    try:
        delivered(webhook, tmp_path)
    finally:
        webhook.close()


def delivered(webhook: Webhook, tmp_path: Path) -> None:
    """Start Alertmanager and Prometheus, wait for the alert at the webhook, and check it."""
    am_port, prom_port, dead_port = free_port(), free_port(), free_port()
    config = yaml.safe_load(rendered(tmp_path, webhook.url).read_text())
    # The test's only changes: no waiting before the first notification.
    config["route"]["group_wait"] = "1s"
    for route in config["route"]["routes"]:
        route["group_wait"] = "1s"
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    rules = load_yaml(PROMETHEUS_DIR / "alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    prom = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    prom["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    prom["rule_files"] = [str(tmp_path / "alerts.yml")]
    assert prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{am_port}"]
    # An API that is down: nothing listens on its port.
    prom["scrape_configs"] = [
        {"job_name": "servekit-api", "static_configs": [{"targets": [f"127.0.0.1:{dead_port}"]}]}
    ]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom))
    alertmanager = [
        binary("prometheus-alertmanager"), f"--config.file={tmp_path / 'am.yml'}",
        f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",
    ]  # fmt: skip
    prometheus = [
        binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'prom-data'}", f"--web.listen-address=127.0.0.1:{prom_port}",
    ]  # fmt: skip
    with (
        program(alertmanager, f"http://127.0.0.1:{am_port}/-/ready", tmp_path / "am.log"),
        program(prometheus, f"http://127.0.0.1:{prom_port}/-/ready", tmp_path / "prom.log"),
    ):
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while not any(b["status"] == "firing" for b in webhook.bodies):
            assert time.monotonic() < deadline, (
                f"no alert reached the webhook in {DELIVERY_TIMEOUT} s; Alertmanager's log:\n"
                + (tmp_path / "am.log").read_text()[-3000:]
            )
            time.sleep(0.5)
    body = next(b for b in webhook.bodies if b["status"] == "firing")
    assert body["receiver"] == "operators"
    assert body["groupLabels"] == {"alertname": "ServekitApiDown", "severity": "critical"}
    alert = body["alerts"][0]
    assert alert["labels"]["instance"] == f"127.0.0.1:{dead_port}"
    assert alert["labels"]["stack"] == "servekit"
    assert alert["annotations"]["summary"] == f"servekit API 127.0.0.1:{dead_port} is down"
