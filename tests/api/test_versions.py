"""Several versions of one model side by side, and the reject policy for out-of-distribution rows."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.conftest import IRIS_SETOSA, AppFactory


def add_version(repo: Path, name: str, version: str, **changes: object) -> Path:
    """Copy ``repo/name`` as a new version, with manifest fields changed."""
    target = repo / f"{name}-v{version}"
    shutil.copytree(repo / name, target)
    manifest_path = target / "servekit.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest.update(version=version, **changes)
    manifest_path.write_text(yaml.safe_dump(manifest))
    return target


def test_latest_version_is_served_by_default_and_older_ones_when_pinned(
    repo_dir: Path, make_app: AppFactory
) -> None:
    add_version(repo_dir, "iris", "2", description="second")
    add_version(repo_dir, "iris", "10", description="tenth")
    with TestClient(make_app(model_repository=repo_dir)) as client:
        assert client.post("/models/iris/predict", json=IRIS_SETOSA).json()["version"] == "10"
        for version in ("1", "2", "10"):
            response = client.post(f"/models/iris/versions/{version}/predict", json=IRIS_SETOSA)
            assert response.json()["version"] == version
        detail = client.get("/models/iris").json()
        assert (detail["version"], detail["versions"]) == ("10", ["1", "2", "10"])
        assert client.get("/models/iris/versions/2").json()["description"] == "second"


def test_reject_policy_refuses_out_of_distribution_rows_with_the_reason(
    repo_dir: Path, make_app: AppFactory
) -> None:
    add_version(repo_dir, "iris", "2", ood={"policy": "reject"})
    labels = {"model": "iris", "version": "2"}
    before = REGISTRY.get_sample_value("servekit_ood_rejected_rows_total", labels) or 0
    with TestClient(make_app(model_repository=repo_dir)) as client:
        ok = client.post("/models/iris/predict", json=IRIS_SETOSA)
        assert ok.status_code == 200
        batch = {"instances": [IRIS_SETOSA, {**IRIS_SETOSA, "sepal_length": 50}]}
        response = client.post("/models/iris/predict", json=batch)
        # The warn policy of version 1 still answers the same batch.
        assert client.post("/models/iris/versions/1/predict", json=batch).status_code == 200
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "out_of_distribution"
    assert "sepal_length = 50" in body["message"]
    assert "row 1" in body["message"]
    range_finding = next(d for d in body["detail"] if d["type"] == "out_of_range")
    assert range_finding["loc"] == ["row", 1, "sepal_length"]
    assert range_finding["expected"].startswith("between")
    assert REGISTRY.get_sample_value("servekit_ood_rejected_rows_total", labels) == before + 1
