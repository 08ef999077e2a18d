"""The kinds of out-of-distribution findings are named alike in answers, docs and the dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import servekit.drift.ood as ood

ROOT = Path(__file__).resolve().parents[2]


def kinds_in_code() -> set[str]:
    return set(re.findall(r'kind="([a-z_]+)"', Path(ood.__file__).read_text()))


def test_docs_and_dashboard_name_the_kinds_answers_carry() -> None:
    kinds = kinds_in_code()
    assert kinds == {"out_of_range", "unseen_category", "multivariate_outlier"}
    [line] = [
        line
        for line in (ROOT / "docs" / "monitoring.md").read_text().splitlines()
        if line.startswith("| `servekit_ood_warnings_total`")
    ]
    documented = set(re.findall(r"`([a-z_]+)`", line.split("|")[3])) - {"kind"}
    assert documented == kinds
    dashboard = (ROOT / "deploy" / "grafana" / "dashboards" / "servekit.json").read_text()
    [said] = re.findall(r"Findings a second: ([a-z_, ]+);", dashboard)
    assert set(said.split(", ")) == kinds
