"""Structured logs: one JSON object a line, so that log shippers need no parsing rules."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from pydantic_core import to_json

from servekit.config import LogSettings

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
# uvicorn's color_message repeats the message with terminal colours: noise in a JSON line.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record and its ``extra`` fields as one JSON line.

    It runs once per request, so it is kept cheap: the timestamp's seconds are formatted once a
    second, and the JSON is written by pydantic-core's encoder.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object."""
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return to_json(entry, fallback=str).decode()


def configure_logging(settings: LogSettings) -> None:
    """Send servekit's and uvicorn's logs to stderr in the chosen format (idempotent)."""
    # Per the logging HOWTO's "Optimization" section: collect nothing the formats do not show
    # (caller, thread, multiprocessing names); a record is made for every request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    if settings.json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("servekit", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(settings.level)
        logger.propagate = False
