"""Structured logs: one JSON object a line, with the request's fields."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from servekit.config import LogSettings
from servekit.monitoring.logging import JsonFormatter, configure_logging
from tests.conftest import IRIS_SETOSA


def test_formatter_writes_one_json_object_with_extra_fields() -> None:
    record = logging.LogRecord(
        "servekit.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None
    )
    record.request_id = "r1"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "GET /x"
    assert entry["level"] == "info"
    assert entry["request_id"] == "r1"
    assert entry["time"].endswith("+00:00")


def test_each_request_logs_one_line_with_its_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("servekit.access")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="servekit.access"):
            response = client.post(
                "/models/iris/predict", json=IRIS_SETOSA, headers={"X-Request-ID": "trace-42"}
            )
    finally:
        logger.removeHandler(caplog.handler)
    assert response.headers["x-request-id"] == "trace-42"
    # The same record may reach caplog twice (its handler, and the root's by propagation).
    [record] = {id(r): r for r in caplog.records if r.name == "servekit.access"}.values()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "trace-42"
    assert entry["route"] == "/models/iris/predict"
    assert entry["status"] == 200
    assert entry["duration_ms"] > 0


def test_configure_logging_is_idempotent() -> None:
    configure_logging(LogSettings())
    configure_logging(LogSettings(level="WARNING"))
    logger = logging.getLogger("servekit")
    assert len(logger.handlers) == 1
    assert logger.level == logging.WARNING
    configure_logging(LogSettings())
