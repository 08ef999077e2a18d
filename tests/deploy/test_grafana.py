"""Grafana's provisioning and dashboards, as strictly as they can be checked without Grafana."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from typing import Any

import promql_parser
import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard

from tests.deploy.queries import GRAFANA_VARIABLES, dashboard_queries, dashboards
from tests.deploy.tools import GRAFANA_DIR, load_yaml

PROVISIONING = GRAFANA_DIR / "provisioning"


def datasource_uids() -> dict[str, str]:
    """The provisioned data sources: uid -> type."""
    sources = load_yaml(PROVISIONING / "datasources" / "datasources.yaml")["datasources"]
    return {s["uid"]: s["type"] for s in sources}


def test_committed_dashboards_are_what_the_generator_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(GRAFANA_DIR / "generate.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_datasources_are_prometheus_and_loki_on_the_compose_network() -> None:
    config = load_yaml(PROVISIONING / "datasources" / "datasources.yaml")
    assert config["apiVersion"] == 1
    sources = {s["uid"]: s for s in config["datasources"]}
    assert sources["prometheus"]["url"] == "http://prometheus:9090"
    assert sources["loki"]["url"] == "http://loki:3100"
    assert [s["uid"] for s in sources.values() if s.get("isDefault")] == ["prometheus"]
    for source in sources.values():
        assert set(source) <= {
            "name",
            "uid",
            "type",
            "access",
            "url",
            "isDefault",
            "editable",
            "jsonData",
        }
        assert source["access"] == "proxy"
        assert source["editable"] is False


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    providers = load_yaml(PROVISIONING / "dashboards" / "dashboards.yaml")["providers"]
    compose = load_yaml(GRAFANA_DIR.parent / "compose.yaml")
    mounts = [str(v) for v in compose["services"]["grafana"]["volumes"]]
    for provider in providers:
        assert provider["type"] == "file"
        assert provider["allowUiUpdates"] is False
        assert any(m.endswith(f":{provider['options']['path']}:ro") for m in mounts), mounts


@pytest.mark.parametrize(("name", "board"), list(dashboards()))
def test_dashboard_reads_back_into_grafanas_model(name: str, board: dict[str, Any]) -> None:
    again = Dashboard.from_json(board)
    assert again.uid == board["uid"]
    assert again.title == board["title"]
    assert len(again.panels or []) == len(board["panels"])


@pytest.mark.parametrize(("name", "board"), list(dashboards()))
def test_dashboard_panels_are_laid_out_without_overlap(name: str, board: dict[str, Any]) -> None:
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        area = set(
            itertools.product(
                range(pos["x"], pos["x"] + pos["w"]), range(pos["y"], pos["y"] + pos["h"])
            )
        )
        assert not cells & area, f"{panel['title']!r} overlaps another panel"
        cells |= area


@pytest.mark.parametrize(("name", "board"), list(dashboards()))
def test_dashboard_panels_use_provisioned_sources_and_defined_variables(
    name: str, board: dict[str, Any]
) -> None:
    sources = datasource_uids()
    variables = {v["name"] for v in board["templating"]["list"]}
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel.get("title"), panel
        assert panel.get("description"), panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        for target in [panel, *panel["targets"]]:
            ref = target["datasource"]
            assert sources.get(ref["uid"]) == ref["type"], (
                f"{panel['title']!r}: unknown source {ref}"
            )
        for target in panel["targets"]:
            for used in re.findall(r"\$(\w+)", target["expr"]):
                assert used in variables or f"${used}" in GRAFANA_VARIABLES, used


def test_every_promql_query_of_the_dashboards_parses() -> None:
    queries = [q for q in dashboard_queries() if q.language == "promql"]
    assert len(queries) > 25
    for query in queries:
        promql_parser.parse(query.expr)  # raises on a syntax or type error


def test_logs_panel_selects_the_streams_the_shipper_labels() -> None:
    alloy = (GRAFANA_DIR.parent / "alloy" / "config.alloy").read_text()
    (logql,) = [q for q in dashboard_queries() if q.language == "logql"]
    # NOTE: no LogQL parser runs here (Loki and Grafana are not installable): the stream
    # selector's labels must at least be ones the log shipper sets.
    selector = re.fullmatch(r"\{(.*?)\}(.*)", logql.expr)
    assert selector, logql.expr
    for label in re.findall(r"(\w+)\s*=~?", selector.group(1)):
        assert f'target_label  = "{label}"' in alloy, f"the shipper never sets the label {label}"
    assert selector.group(2).strip().startswith("| json"), "servekit's log lines are JSON"
