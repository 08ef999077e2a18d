"""Warnings that model code raises: logged once per model and text, never once per call.

scikit-learn, for one, warns on every call whose input it finds odd ("X has feature names, but
... was fitted without feature names"): on stderr, once a call, that was 7.5 MB of log in one
benchmark. Python's own "once per place" does not hold, since every ``catch_warnings`` (which
libraries use inside their calls) makes Python forget which warnings it showed.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any, TextIO

log = logging.getLogger("servekit.model")
MAX_REMEMBERED = 1000
"""Distinct (model, warning) pairs remembered; past it, the table starts again (a bound)."""

_calling = threading.local()
_seen: set[tuple[str, str, str]] = set()
_lock = threading.Lock()
_previous: Callable[..., Any] | None = None


def set_model(key: str | None) -> None:
    """Say which model this thread is running (None: no model)."""
    _calling.model = key


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    model = getattr(_calling, "model", None)
    if model is None:
        assert _previous is not None
        _previous(message, category, filename, lineno, file, line)
        return
    key = (model, category.__name__, str(message))
    with _lock:
        if key in _seen:
            return
        if len(_seen) >= MAX_REMEMBERED:
            _seen.clear()
        _seen.add(key)
    log.warning(
        "model %s warned (said once per model): %s: %s",
        model,
        category.__name__,
        message,
        extra={"model": model, "warning": category.__name__},
    )


def capture() -> None:
    """Route warnings raised inside model calls to the log, once each (idempotent)."""
    global _previous
    if warnings.showwarning is not _show:
        _previous = warnings.showwarning
        warnings.showwarning = _show
