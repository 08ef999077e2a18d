"""Structured logs: one JSON object a line, with the request's fields."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from fastapi.testclient import TestClient

from servekit.config import LogSettings
from servekit.monitoring.logging import (
    AccessLog,
    BatchingStreamHandler,
    JsonFormatter,
    configure_logging,
)
from tests.conftest import IRIS_SETOSA, AppFactory


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


def record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("servekit.test", level, __file__, 1, message, None, None)


def test_info_lines_are_held_and_a_warning_writes_them_first() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        handler.handle(record(logging.INFO, "one"))
        handler.handle(record(logging.INFO, "two"))
        assert stream.getvalue() == ""  # held: no write per line
        handler.handle(record(logging.WARNING, "three"))
        assert stream.getvalue() == "one\ntwo\nthree\n"
        handler.handle(record(logging.INFO, "four"))
    finally:
        handler.close()
    assert stream.getvalue().endswith("three\nfour\n")  # written when the handler closes


def test_held_lines_are_written_within_the_interval() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=0.05)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        handler.handle(record(logging.INFO, "soon"))
        deadline = time.monotonic() + 10
        while stream.getvalue() != "soon\n" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stream.getvalue() == "soon\n"
    finally:
        handler.close()


def test_a_full_buffer_is_written_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60, max_chars=100)
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for i in range(20):
            handler.handle(record(logging.INFO, f"line {i}"))
        assert stream.getvalue().startswith("line 0\n")
    finally:
        handler.close()


def test_the_access_log_can_be_turned_off(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging(LogSettings(access=False))
    logger = logging.getLogger("servekit.access")
    logger.addHandler(caplog.handler)
    try:
        with TestClient(make_app()) as client, caplog.at_level(logging.INFO):
            assert client.post("/models/iris/predict", json=IRIS_SETOSA).status_code == 200
            assert client.get("/healthz").status_code == 200
    finally:
        logger.removeHandler(caplog.handler)
        configure_logging(LogSettings())
    assert not [r for r in caplog.records if r.name == "servekit.access"]


def test_the_access_line_is_the_same_by_the_direct_path_and_by_a_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging(LogSettings())
    [handler] = logging.getLogger("servekit").handlers
    assert isinstance(handler, BatchingStreamHandler)
    stream, handler.stream = handler.stream, io.StringIO()
    fields = {"request_id": "r-7", "status": 200, "duration_ms": 1.5}
    access = AccessLog(logging.getLogger("servekit.access"))
    try:
        access.write("POST /x 200", fields)  # only servekit's handler: the direct path
        handler.flush()
        direct = json.loads(handler.stream.getvalue())
        logger = logging.getLogger("servekit.access")
        logger.addHandler(caplog.handler)  # another handler: an ordinary record
        try:
            with caplog.at_level(logging.INFO, logger="servekit.access"):
                access.write("POST /x 200", fields)
        finally:
            logger.removeHandler(caplog.handler)
    finally:
        handler.stream = stream
    [record] = {id(r): r for r in caplog.records if r.name == "servekit.access"}.values()
    through_record = json.loads(JsonFormatter().format(record))
    assert direct.pop("time").endswith("+00:00")
    assert through_record.pop("time").endswith("+00:00")
    assert direct == through_record
    assert direct["request_id"] == "r-7"
    assert direct["message"] == "POST /x 200"


def test_closing_twice_is_harmless() -> None:
    handler = BatchingStreamHandler(io.StringIO())
    handler.close()
    handler.close()  # as logging's shutdown does after configure_logging closed it
