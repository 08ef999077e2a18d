"""Structured logs: one JSON object a line, so that log shippers need no parsing rules."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

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
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            extra["exception"] = self.formatException(record.exc_info)
        return self.line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            record.process,
            extra,
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        pid: int | None,
        extra: dict[str, Any],
    ) -> str:
        """The JSON line of one entry (``format`` for a record; ``AccessLog`` without one)."""
        entry: dict[str, Any] = {
            "time": self._time(created),
            "level": level,
            "logger": logger,
            "message": message,
            "pid": pid,
            **extra,
        }
        return to_json(entry, fallback=str).decode()


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes its lines to the stream in batches rather than one write(2) per line.

    A line per request is one system call per request, as much as a fast prediction's own work
    where system calls are slow. Info lines wait at most ``interval`` seconds (a background
    thread writes them); a warning or worse is written at once, after every line before it, so
    the order holds. The rest is written at exit: logging's shutdown flushes every handler. A
    process killed without warning (SIGKILL) loses at most the last interval's info lines.
    """

    def __init__(self, stream: TextIO, interval: float = 0.2, max_chars: int = 1 << 16) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_chars = max_chars
        self._pending: list[str] = []
        self._chars = 0
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Buffer the line (called with the handler's lock held); write now if it is urgent."""
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._buffer(line, urgent=record.levelno >= logging.WARNING)

    def add_line(self, line: str) -> None:
        """Buffer an info line formatted elsewhere (the access log's direct path)."""
        with self.lock:  # type: ignore[union-attr]
            self._buffer(line + self.terminator, urgent=False)

    def _buffer(self, line: str, *, urgent: bool) -> None:
        # Called with the handler's lock held.
        self._pending.append(line)
        self._chars += len(line)
        if urgent or self._chars >= self.max_chars:
            self._write()
        elif self._flusher is None:
            self._flusher = threading.Thread(target=self._run, name="log flusher", daemon=True)
            self._flusher.start()

    def _write(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._chars = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream: losing log lines must not fail a request

    def flush(self) -> None:
        """Write every buffered line now."""
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def close(self) -> None:
        """Write what is buffered and stop the background writer."""
        self._stop.set()
        self.flush()
        super().close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()


def configure_logging(settings: LogSettings, others: Sequence[str] = ()) -> None:
    """Send servekit's, uvicorn's and the ``others`` loggers to stderr in the chosen format (idempotent)."""
    # Per the logging HOWTO's "Optimization" section: collect nothing the formats do not show
    # (caller, thread, multiprocessing names); a record is made for every request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = BatchingStreamHandler(sys.stderr, settings.flush_interval_s)
    if settings.json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    names = ("servekit", "uvicorn", "uvicorn.error", *others)
    previous = {h for name in names for h in logging.getLogger(name).handlers}
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(settings.level)
        logger.propagate = False
    # Handlers replaced above are closed, so that their background writers stop.
    for old in previous - {handler}:
        old.close()
    logging.getLogger("servekit.access").disabled = not settings.access


class AccessLog:
    """Writes the access line of each request: ``logger.info`` with ``extra`` fields, or faster.

    A log record costs more than a fast prediction's own work on a slow machine (about 20 us). So
    when the line would go only to servekit's own JSON handler (the configuration
    ``configure_logging`` makes), the same line is formatted straight from the fields and handed
    to that handler. Anything else on the way (a handler or filter on ``servekit.access``, another
    format) gets an ordinary record through ``logger.info``.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.parent = logger.parent
        self.pid = os.getpid()

    def write(self, message: str, fields: dict[str, Any]) -> None:
        """Log one request at INFO."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handler = self._direct()
        if handler is None:
            logger.info(message, extra=fields)
            return
        formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]
        handler.add_line(
            formatter.line(time.time(), "info", logger.name, message, self.pid, fields)
        )

    def _direct(self) -> BatchingStreamHandler | None:
        logger, parent = self.logger, self.parent
        if logger.handlers or logger.filters or not logger.propagate or parent is None:
            return None
        if parent.propagate or parent.filters or len(parent.handlers) != 1:
            return None
        handler = parent.handlers[0]
        if (
            type(handler) is not BatchingStreamHandler
            or type(handler.formatter) is not JsonFormatter
            or handler.filters
            or handler.level > logging.INFO
        ):
            return None
        return handler
