"""Every query the dashboards and the alert rules run, in the form Prometheus itself accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import promql_parser

from tests.deploy.tools import GRAFANA_DIR, PROMETHEUS_DIR, load_yaml

# Grafana fills these in before it sends a query; Prometheus is sent what Grafana would send
# with every variable on "All" and a short window (the live test scrapes every second).
GRAFANA_VARIABLES = {
    "$__rate_interval": "30s",
    '=~"$job"': '=~".*"',
    '=~"$model"': '=~".*"',
    '=~"$level"': '=~".*"',
}

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


@dataclass(frozen=True)
class Query:
    """One query and where it is used."""

    where: str
    expr: str
    language: str = "promql"


def grafana_expr(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in; none may be left."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the tests do not know is left in {expr!r}"
    return expr


def dashboards() -> Iterator[tuple[str, dict[str, Any]]]:
    """Each committed dashboard, by file name."""
    for path in sorted((GRAFANA_DIR / "dashboards").glob("*.json")):
        yield path.name, json.loads(path.read_text())


def dashboard_queries() -> list[Query]:
    """The queries of every panel and every query variable of every dashboard."""
    found = []
    for name, board in dashboards():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                language = "logql" if target["datasource"]["type"] == "loki" else "promql"
                where = f"{name}: panel {panel['title']!r} {target['refId']}"
                found.append(Query(where, grafana_expr(target["expr"]), language))
        for var in board["templating"]["list"]:
            if var["type"] == "query":
                # label_values(METRIC, LABEL) is Grafana's; Prometheus is asked for METRIC.
                metric = var["query"].removeprefix("label_values(").rsplit(",", 1)[0]
                found.append(Query(f"{name}: variable {var['name']}", metric))
    return found


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of alerts.yml."""
    groups = load_yaml(PROMETHEUS_DIR / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _parts(node: Any) -> Iterator[Any]:
    """The sub-queries whose data an alert compares: `q > 1` -> q; `a and b` -> parts of both."""
    kind = type(node).__name__
    if kind == "ParenExpr":
        yield from _parts(node.expr)
    elif kind == "BinaryExpr" and str(node.op) in COMPARISONS:
        if type(node.rhs).__name__ == "NumberLiteral":
            yield from _parts(node.lhs)
        elif type(node.lhs).__name__ == "NumberLiteral":
            yield from _parts(node.rhs)
        else:
            yield node
    elif kind == "BinaryExpr" and str(node.op) in {"and", "unless"}:
        yield from _parts(node.lhs)
        yield from _parts(node.rhs)
    else:
        yield node


def alert_queries() -> list[Query]:
    """For each alert, the queries that must return data for the alert to be able to fire."""
    found = []
    for rule in alert_rules():
        parsed = promql_parser.parse(rule["expr"])
        for i, part in enumerate(_parts(parsed)):
            found.append(Query(f"alert {rule['alert']} part {i}", part.prettify()))
    return found
