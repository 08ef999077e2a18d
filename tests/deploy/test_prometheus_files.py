"""The committed Prometheus configuration and alert rules, checked by promtool."""

from __future__ import annotations

from tests.deploy.queries import alert_rules
from tests.deploy.tools import PROMETHEUS_DIR, binary, load_yaml, run


def test_compose_configuration_is_valid() -> None:
    run(binary("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_alert_rules_are_valid() -> None:
    run(binary("promtool"), "check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))


def test_alert_rules_fire_and_stay_silent_as_their_unit_tests_expect() -> None:
    done = run(binary("promtool"), "test", "rules", "alerts_test.yml", cwd=PROMETHEUS_DIR)
    assert "SUCCESS" in done.stdout


def test_every_alert_is_unit_tested_firing_and_silent() -> None:
    tests = load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]
    cases = [case for test in tests for case in test.get("alert_rule_test", [])]
    for rule in alert_rules():
        name = rule["alert"]
        assert any(c["alertname"] == name and c["exp_alerts"] for c in cases), f"{name} never fires"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in cases), (
            f"{name} is never tested silent"
        )


def test_every_alert_says_how_bad_and_what_happened() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert "for" in rule, f"{rule['alert']} would fire on one bad scrape"


def test_rules_use_the_scrape_jobs_that_exist() -> None:
    jobs = {
        job["job_name"] for job in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]
    }
    assert {"servekit-api", "servekit-worker", "node", "cadvisor"} <= jobs
