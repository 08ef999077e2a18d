"""deploy/k8s/ against the Kubernetes schemas shipped in kubernetes-validate (offline), strictly."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.tools import DEPLOY, PROMETHEUS_DIR, binary, load_yaml, load_yaml_all, run

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.31.0"
"""The oldest Kubernetes the manifests must suit (schemas of every version ship in the package)."""


def resources() -> list[tuple[str, dict[str, Any]]]:
    """Every resource of every manifest, with a readable id."""
    return [
        (f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in load_yaml_all(path)
    ]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one kind, by name."""
    return {d["metadata"]["name"]: d for _, d in resources() if d["kind"] == kind}


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kubernetes_validate.latest_version()])
@pytest.mark.parametrize(("name", "resource"), resources())
def test_resource_matches_the_kubernetes_schema_strictly(
    name: str, resource: dict[str, Any], version: str
) -> None:
    # strict: an unknown or misspelt field is an error, not ignored as the API server would.
    kubernetes_validate.validate(resource, version, strict=True)


def test_a_misspelt_field_is_caught() -> None:
    deployment = by_kind("Deployment")["servekit-api"]
    bad = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_the_kinds_the_deployment_needs_are_there() -> None:
    kinds = {d["kind"] for _, d in resources()}
    assert kinds >= {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret"}
    assert set(by_kind("Deployment")) == {"servekit-api", "servekit-worker"}
    hpa = by_kind("HorizontalPodAutoscaler")["servekit-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "servekit-api"


def test_api_probes_health_and_readiness_and_runs_as_non_root() -> None:
    pod = by_kind("Deployment")["servekit-api"]["spec"]["template"]["spec"]
    (api,) = pod["containers"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for deployment in by_kind("Deployment").values():
        spec = deployment["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "memory" in container["resources"]["limits"]


def test_pods_are_annotated_for_scraping_on_the_ports_they_serve() -> None:
    for deployment in by_kind("Deployment").values():
        template = deployment["spec"]["template"]
        notes = template["metadata"]["annotations"]
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]}
        assert notes["prometheus.io/scrape"] == "true"
        assert int(notes["prometheus.io/port"]) in ports


def test_secret_template_holds_no_working_secret() -> None:
    secret = by_kind("Secret")["servekit"]
    assert set(secret["stringData"].values()) == {""}
    config = by_kind("ConfigMap")["servekit"]["data"]
    assert not {"DATABASE_URL", "SERVEKIT_AUTH__JWT_SECRET", "SERVEKIT_REDIS_URL"} & set(config)


def test_kubernetes_scrape_configuration_finds_the_headless_services(tmp_path: Path) -> None:
    shutil.copy(K8S / "prometheus-scrape.yml", tmp_path)
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path)  # mounted beside it, as it says
    run(binary("promtool"), "check", "config", str(tmp_path / "prometheus-scrape.yml"))
    services = by_kind("Service")
    # The same job names as in compose, so the alert rules and dashboards work unchanged.
    jobs = load_yaml(K8S / "prometheus-scrape.yml")["scrape_configs"]
    assert {job["job_name"] for job in jobs} == {"servekit-api", "servekit-worker"}
    for job in load_yaml(K8S / "prometheus-scrape.yml")["scrape_configs"]:
        (sd,) = job["dns_sd_configs"]
        (name,) = sd["names"]
        assert services[name]["spec"]["clusterIP"] == "None", f"{name} must be headless"
        assert sd["port"] in {p["port"] for p in services[name]["spec"]["ports"]}
