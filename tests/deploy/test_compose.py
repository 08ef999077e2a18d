"""deploy/compose.yaml against the Compose specification's schema, and secure by default."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.tools import DEPLOY, PROMETHEUS_DIR, binary, load_yaml, run

COMPOSE = DEPLOY / "compose.yaml"
INTERNAL = {
    "redis",
    "postgres",
    "prometheus",
    "loki",
    "alloy",
    "node-exporter",
    "cadvisor",
    "worker",
}
DATA_VOLUMES = {
    "redis": "/data",
    "postgres": "/var/lib/postgresql/data",
    "prometheus": "/prometheus",
    "grafana": "/var/lib/grafana",
    "loki": "/loki",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """The services, with YAML anchors and merge keys resolved."""
    return dict(load_yaml(COMPOSE)["services"])


def test_compose_file_matches_the_compose_spec_schema() -> None:
    # The Compose specification's JSON schema, as vendored by check-jsonschema (compose-spec.json,
    # from github.com/compose-spec/compose-spec, with its licence in the package).
    run(binary("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE))


def test_every_variable_is_in_the_example_and_no_secret_has_a_default() -> None:
    text = COMPOSE.read_text()
    example = dict(
        line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    commented = re.findall(r"^# (\w+)=", (DEPLOY / ".env.example").read_text(), re.MULTILINE)
    used = set(re.findall(r"\$\{(\w+)", text))
    assert used <= set(example) | set(commented), used - set(example) - set(commented)
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "SERVEKIT_JWT_SECRET",
        "GRAFANA_ADMIN_PASSWORD",
        "ALERT_WEBHOOK_URL",
    }
    for name in required:
        assert example[name] == "", f"{name} has a working default in .env.example"
        assert not re.search(rf"\$\{{{name}:-", text), f"{name} has a default in compose.yaml"


def test_only_the_api_and_grafana_are_published_and_on_localhost_by_default(
    services: dict[str, Any],
) -> None:
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"api", "grafana"}
    assert not published & INTERNAL
    for name in published:
        for port in services[name]["ports"]:
            assert port.startswith("${"), port
            assert ":-127.0.0.1}:" in port, port


def test_grafana_has_no_default_admin_and_no_sign_up(services: dict[str, Any]) -> None:
    env = services["grafana"]["environment"]
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_servekit_runs_in_production_mode_with_its_secrets(services: dict[str, Any]) -> None:
    for name in ("api", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["SERVEKIT_ENVIRONMENT"] == "production"
        assert env["SERVEKIT_AUTH__JWT_SECRET"].startswith("${SERVEKIT_JWT_SECRET:?")
        assert "${REDIS_PASSWORD:?" in env["SERVEKIT_REDIS_URL"]
    assert "SERVEKIT_ALLOW_ANONYMOUS" not in services["api"]["environment"]


def test_services_have_health_checks_and_restart_policies(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no"  # a one-off: it runs, then exits
            continue
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_data_survives_a_restart_in_named_volumes(services: dict[str, Any]) -> None:
    declared = set(load_yaml(COMPOSE)["volumes"])
    for name, path in DATA_VOLUMES.items():
        mounts = {v.split(":")[1]: v.split(":")[0] for v in services[name]["volumes"]}
        assert mounts[path] in declared, f"{name} keeps {path} in no named volume"


def test_workers_scale(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["command"][-2:] == ["--metrics-port", "9101"]


def test_prometheus_scrapes_the_services_where_they_listen(services: dict[str, Any]) -> None:
    jobs = {
        j["job_name"]: j for j in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
    }
    api = jobs["servekit-api"]["dns_sd_configs"][0]
    worker = jobs["servekit-worker"]["dns_sd_configs"][0]
    assert (api["names"], api["port"]) == (["api"], 8000)
    assert (worker["names"], worker["port"]) == (["worker"], 9101)
    for job in ("node", "cadvisor", "loki", "grafana"):
        host = jobs[job]["static_configs"][0]["targets"][0].split(":")[0]
        assert host in services, host
    for name in ("api", "worker", "prometheus", "node-exporter", "cadvisor"):
        assert "monitoring" in services[name]["networks"], name
    for name in ("redis", "postgres"):
        assert services[name]["networks"] == ["backend"], name


def test_mounted_files_exist_and_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        image = service["image"]
        if not image.startswith("${SERVEKIT_IMAGE"):
            assert re.search(r":v?\d", image), f"{name}: {image} is not pinned to a version"
