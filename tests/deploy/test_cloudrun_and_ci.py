"""The Cloud Run service file and its guide, and the CI workflow (schemas where one exists)."""

from __future__ import annotations

import re

from tests.deploy.tools import DEPLOY, ROOT, binary, load_yaml, run

CLOUDRUN = DEPLOY / "cloudrun"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_cloud_run_service_listens_on_port_and_keeps_secrets_out() -> None:
    service = load_yaml(CLOUDRUN / "service.yaml")
    assert (service["apiVersion"], service["kind"]) == ("serving.knative.dev/v1", "Service")
    spec = service["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["ports"] == [{"name": "http1", "containerPort": 8080}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e for e in container["env"]}
    assert env["SERVEKIT_ENVIRONMENT"]["value"] == "production"
    for secret in ("SERVEKIT_AUTH__JWT_SECRET", "DATABASE_URL"):
        assert "value" not in env[secret]
        assert "secretKeyRef" in env[secret]["valueFrom"]


def test_cloud_run_guide_defines_what_the_service_file_needs_and_uses_artifact_registry() -> None:
    guide = (CLOUDRUN / "README.md").read_text()
    needed = set(re.findall(r"\$\{(\w+)\}", (CLOUDRUN / "service.yaml").read_text()))
    exported = set(re.findall(r"^export (\w+)=", guide, re.MULTILINE))
    assert needed <= exported, needed - exported
    assert "docker.pkg.dev" in guide
    for step in ("docker build", "docker push", "gcloud run services replace", "envsubst"):
        assert step in guide, step


def test_ci_workflow_matches_the_github_workflow_schema() -> None:
    # The schema is SchemaStore's, vendored in check-jsonschema.
    run(binary("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))


def test_ci_runs_the_readme_test_command_with_postgres_and_redis() -> None:
    job = load_yaml(WORKFLOW)["jobs"]["test"]
    assert set(job["services"]) == {"postgres", "redis"}
    assert [s["run"] for s in job["steps"] if "run" in s][-1] == "./scripts/test"
    installs = " ".join(s.get("run", "") for s in job["steps"])
    for package in ("prometheus", "prometheus-node-exporter", "redis-server"):
        assert f" {package}" in installs, package
