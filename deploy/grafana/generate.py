"""Write Grafana's servekit dashboard, built with Grafana's foundation SDK (never edited by hand).

    .venv/bin/python deploy/grafana/generate.py           # rewrite dashboards/servekit.json
    .venv/bin/python deploy/grafana/generate.py --check   # exit 1 if the committed file differs

tests/deploy/test_grafana.py runs the check; tests/deploy/test_live_prometheus.py runs every
query below against a live servekit and Prometheus.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, logs, loki, prometheus, stat
from grafana_foundation_sdk.builders import timeseries as ts
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    LogsSortOrder,
    StackingMode,
    VisibilityMode,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

OUT = Path(__file__).parent / "dashboards" / "servekit.json"

# The data sources of provisioning/datasources/datasources.yaml, by uid.
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="prometheus")
LOKI = DataSourceRef(type_val="loki", uid="loki")

# The dashboard's variables, shared by the queries.
API = 'job=~"$job"'
MODEL = 'model=~"$model"'
NO_PROBES = 'path!~"/metrics|/healthz|/readyz"'
R = "$__rate_interval"
ALL = VariableOption(selected=True, text="All", value="$__all")


def q(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    """One Prometheus query of a panel."""
    return (
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROMETHEUS)
    )


def graph(title: str, description: str, unit: str, *queries: prometheus.Dataquery) -> ts.Panel:
    """A time series panel, half the dashboard wide, with a table legend."""
    panel = (
        ts.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .unit(unit)
        .height(8)
        .span(12)
        .draw_style(GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(10)
        .show_points(VisibilityMode.NEVER)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["mean", "max", "lastNotNull"])
        )
    )
    for query in queries:
        panel = panel.with_target(query)
    return panel


def stacked(panel: ts.Panel) -> ts.Panel:
    """The series of a panel stacked (parts of one whole)."""
    return panel.stacking(common.StackingConfig().mode(StackingMode.NORMAL)).fill_opacity(40)


def single(title: str, description: str, unit: str, query: prometheus.Dataquery) -> stat.Panel:
    """A one-number panel."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(PROMETHEUS)
        .unit(unit)
        .height(4)
        .span(6)
        .color_mode(BigValueColorMode.VALUE)
        .with_target(query.instant())
    )


def variable(name: str, label: str, expr: str) -> dashboard.QueryVariable:
    """A multi-value filter filled from Prometheus, "All" by default."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(expr)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(ALL)
    )


def traffic() -> list[ts.Panel | stat.Panel]:
    """Requests, errors and latency, as the API answers them."""
    requests = f"api_requests_total{{{API}, {NO_PROBES}}}"
    buckets = f"api_request_latency_seconds_bucket{{{API}, {NO_PROBES}}}"
    return [
        single(
            "Request rate", "Requests a second, health checks and scrapes excluded.", "reqps",
            q(f"sum(rate({requests}[{R}]))", "requests/s"),
        ),
        single(
            "Error ratio (5xx)", "Share of requests answered with a server error.", "percentunit",
            q(f'sum(rate(api_requests_total{{{API}, {NO_PROBES}, status=~"5.."}}[{R}])) / sum(rate({requests}[{R}]))', "5xx"),
        ),
        single(
            "p95 latency", "95% of requests were answered within this time.", "s",
            q(f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{R}])))", "p95"),
        ),
        single(
            "Predicted rows", "Rows predicted a second, all models.", "rowsps",
            q(f"sum(rate(servekit_predictions_total{{{API}, {MODEL}}}[{R}]))", "rows/s"),
        ),
        stacked(graph(
            "Requests by status", "Requests a second by route and status code.", "reqps",
            q(f"sum by (path, status) (rate({requests}[{R}]))", "{{status}} {{path}}"),
        )),
        graph(
            "Error ratio", "Share of requests answered 5xx (server) and 4xx (client: bad input, unknown model, no token).", "percentunit",
            q(f'sum(rate(api_requests_total{{{API}, {NO_PROBES}, status=~"5.."}}[{R}])) / sum(rate({requests}[{R}]))', "5xx", "A"),
            q(f'sum(rate(api_requests_total{{{API}, {NO_PROBES}, status=~"4.."}}[{R}])) / sum(rate({requests}[{R}]))', "4xx", "B"),
        ),
        graph(
            "Latency", "p50, p95 and p99 from the latency histogram, and the mean (sum / count).", "s",
            q(f"histogram_quantile(0.50, sum by (le) (rate({buckets}[{R}])))", "p50", "A"),
            q(f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{R}])))", "p95", "B"),
            q(f"histogram_quantile(0.99, sum by (le) (rate({buckets}[{R}])))", "p99", "C"),
            q(
                f"sum(rate(api_request_latency_seconds_sum{{{API}, {NO_PROBES}}}[{R}])) / sum(rate(api_request_latency_seconds_count{{{API}, {NO_PROBES}}}[{R}]))",
                "mean", "D",
            ),
        ),
        graph(
            "p95 latency by route", "95th percentile per route template.", "s",
            q(f"histogram_quantile(0.95, sum by (le, path) (rate({buckets}[{R}])))", "{{path}}"),
        ),
    ]  # fmt: skip


def models() -> list[ts.Panel | stat.Panel]:
    """What the models do: rows, model-call time, batches, out-of-distribution input, feedback."""
    return [
        stacked(graph(
            "Predictions by model and version", "Rows predicted a second (a batch of 50 counts 50).", "rowsps",
            q(f"sum by (model, version) (rate(servekit_predictions_total{{{API}, {MODEL}}}[{R}]))", "{{model}} v{{version}}"),
        )),
        graph(
            "Model call time (p95)", "95th percentile of one model call (one batch), in the API or a worker.", "s",
            q(f"histogram_quantile(0.95, sum by (le, model, version) (rate(servekit_inference_seconds_bucket{{{MODEL}}}[{R}])))", "{{model}} v{{version}}"),
        ),
        graph(
            "Out-of-distribution findings per row, by feature",
            "Findings a second for each feature divided by the model's predicted rows a second: which input drifted away from the training data.",
            "percentunit",
            q(
                f"sum by (model, version, feature) (rate(servekit_ood_warnings_total{{{MODEL}}}[{R}]))"
                f" / on (model, version) group_left sum by (model, version) (rate(servekit_predictions_total{{{MODEL}}}[{R}]))",
                "{{model}} v{{version}} {{feature}}",
            ),
        ),
        graph(
            "Out-of-distribution findings by kind", "Findings a second: out_of_range, unseen_category, multivariate_outlier; and rows refused under policy reject.", "ops",
            q(f"sum by (model, kind) (rate(servekit_ood_warnings_total{{{MODEL}}}[{R}]))", "{{model}} {{kind}}", "A"),
            q(f"sum by (model) (rate(servekit_ood_rejected_rows_total{{{MODEL}}}[{R}]))", "{{model}} rejected rows", "B"),
        ),
        graph(
            "Batch size", "Rows per model call: mean, and the 95th percentile.", "short",
            q(f"sum by (model) (rate(servekit_batch_size_sum{{{MODEL}}}[{R}])) / sum by (model) (rate(servekit_batch_size_count{{{MODEL}}}[{R}]))", "{{model}} mean", "A"),
            q(f"histogram_quantile(0.95, sum by (le, model) (rate(servekit_batch_size_bucket{{{MODEL}}}[{R}])))", "{{model}} p95", "B"),
        ),
        graph(
            "Feedback accuracy", "Share of labelled feedback that agrees with the prediction, over all feedback in the database.", "percentunit",
            q(f"max by (model, version) (servekit_feedback_accuracy{{{API}, {MODEL}}})", "{{model}} v{{version}}"),
        ),
        graph(
            "Feedback mean absolute error", "Regressions: mean of |prediction - true value| over the feedback that gave one (each user's latest per prediction).", "short",
            q(f"max by (model, version) (servekit_feedback_mean_absolute_error{{{API}, {MODEL}}})", "{{model}} v{{version}}"),
        ),
    ]  # fmt: skip


def queue() -> list[ts.Panel | stat.Panel]:
    """Rows and jobs waiting, in the API's batcher or in Redis for the workers."""
    return [
        graph(
            "Queue depth (in-process)", "Rows waiting in the API's batcher for a model call.", "short",
            q(f"sum by (model, version) (servekit_queue_depth{{{API}, {MODEL}}})", "{{model}} v{{version}} rows"),
        ),
        graph(
            "Queue wait (p95, in-process)", "95th percentile of the time a row waited before its model call.", "s",
            q(f"histogram_quantile(0.95, sum by (le, model) (rate(servekit_queue_wait_seconds_bucket{{{API}, {MODEL}}}[{R}])))", "{{model}}"),
        ),
        graph(
            "Jobs waiting and pending (Redis)", "Distributed mode: jobs not yet taken by a worker (waiting) and taken but not done (pending).", "short",
            q(f"max by (model, version, state) (servekit_queue_jobs{{{API}, {MODEL}}})", "{{model}} v{{version}} {{state}}"),
        ),
        stacked(graph(
            "Worker jobs by outcome", "Jobs the workers ended a second: done, failed, dead_lettered, expired; and jobs taken over from a silent worker.", "ops",
            q(f"sum by (model, outcome) (rate(servekit_worker_jobs_total{{{MODEL}}}[{R}]))", "{{model}} {{outcome}}", "A"),
            q(f"sum by (model) (rate(servekit_worker_reclaimed_total{{{MODEL}}}[{R}]))", "{{model}} reclaimed", "B"),
        )),
        graph(
            "Refused requests", "Requests refused or dropped before an answer, by reason (queue_full 503, deadline 504, disconnect, shutdown, unavailable, no_worker 503).", "reqps",
            q(f"sum by (model, reason) (rate(servekit_rejections_total{{{API}, {MODEL}}}[{R}]))", "{{model}} {{reason}}"),
        ),
        graph(
            "Redis and the prediction log", "Whether each API process reaches Redis (1) and what became of prediction log rows.", "short",
            q(f"min by (instance) (servekit_redis_up{{{API}}})", "redis up {{instance}}", "A"),
            q(f"sum by (outcome) (rate(servekit_prediction_log_rows_total{{{API}}}[{R}]))", "log rows {{outcome}}/s", "B"),
        ),
    ]  # fmt: skip


def resources() -> list[ts.Panel | stat.Panel]:
    """CPU and memory of servekit's processes, of every container, and of the host."""
    # With `--workers N` one series per process, labelled with its pid.
    cpu = 'process_cpu_seconds_total{job=~"servekit-.*"}'
    containers = 'container_label_com_docker_compose_service!=""'
    return [
        graph(
            "CPU per servekit process", "Cores used by each API and worker process.", "short",
            q(f"sum by (job, instance, pid) (rate({cpu}[{R}]))", "{{job}} {{instance}} {{pid}}"),
        ),
        graph(
            "Memory per servekit process", "Resident memory of each API and worker process.", "bytes",
            q('sum by (job, instance, pid) (process_resident_memory_bytes{job=~"servekit-.*"})', "{{job}} {{instance}} {{pid}}"),
        ),
        graph(
            "CPU per container", "Cores used by each container of the stack (cAdvisor).", "short",
            q(f"sum by (container_label_com_docker_compose_service, name) (rate(container_cpu_usage_seconds_total{{{containers}}}[{R}]))", "{{name}}"),
        ),
        graph(
            "Memory per container", "Working-set memory of each container of the stack (cAdvisor).", "bytes",
            q(f"sum by (container_label_com_docker_compose_service, name) (container_memory_working_set_bytes{{{containers}}})", "{{name}}"),
        ),
        graph(
            "Host CPU", "Share of the host's CPU time that is busy (node-exporter).", "percentunit",
            q(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{job="node", mode="idle"}}[{R}]))', "{{instance}}"),
        ),
        graph(
            "Host memory", "Memory the host has in use and in total (node-exporter).", "bytes",
            q('node_memory_MemTotal_bytes{job="node"} - node_memory_MemAvailable_bytes{job="node"}', "used {{instance}}", "A"),
            q('node_memory_MemTotal_bytes{job="node"}', "total {{instance}}", "B"),
        ),
    ]  # fmt: skip


def logs_panel() -> logs.Panel:
    """The containers' JSON log lines, from Loki, newest first."""
    expr = '{compose_project=~".+", service=~"api|worker"} | json | level=~"$level"'
    return (
        logs.Panel()
        .title("Logs (API and workers)")
        .description("servekit's JSON log lines shipped to Loki; open a line for its fields (request_id, logger, pid, ...).")
        .datasource(LOKI)
        .height(12)
        .span(24)
        .show_time(True)
        .wrap_log_message(True)
        .enable_log_details(True)
        .sort_order(LogsSortOrder.DESCENDING)
        .with_target(loki.Dataquery().expr(expr).ref_id("A").datasource(LOKI))
    )  # fmt: skip


def build() -> dashboard.Dashboard:
    """The servekit dashboard: one row per question an operator asks."""
    board = (
        dashboard.Dashboard("servekit")
        .uid("servekit")
        .description("servekit: traffic, errors, latency, models, queues, resources and logs.")
        .tags(["servekit"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .readonly()
        .with_variable(variable("job", "API job", 'label_values(api_requests_total, job)'))
        .with_variable(variable("model", "Model", "label_values(servekit_predictions_total, model)"))
        .with_variable(
            dashboard.CustomVariable("level").label("Log level").values("DEBUG,INFO,WARNING,ERROR,CRITICAL")
            .multi(True).include_all(True).all_value(".*").current(ALL)
        )
    )  # fmt: skip
    sections: list[tuple[str, list[ts.Panel | stat.Panel | logs.Panel]]] = [
        ("Traffic, errors and latency", traffic()),
        ("Models", models()),
        ("Queues", queue()),
        ("CPU and memory", resources()),
    ]
    sections.append(("Logs", [logs_panel()]))
    ids = itertools.count(1)
    for title, panels in sections:
        board = board.with_row(dashboard.Row(title).id(next(ids)))
        for panel in panels:
            board = board.with_panel(panel.id(next(ids)))
    return board


def render() -> str:
    """The dashboard as the JSON Grafana's file provisioning reads."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def main() -> int:
    """Write the dashboard, or with --check tell whether the committed one is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is not what {Path(__file__).name} generates: run it", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
