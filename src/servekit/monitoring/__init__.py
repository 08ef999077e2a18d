"""Metrics, logs and the monitor. ``instrument(app)`` gives any FastAPI or Starlette app the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servekit.monitoring.instrumentation import instrument

__all__ = ["instrument"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing servekit's own metrics does not import Starlette's routing as well.
    if name == "instrument":
        from servekit.monitoring.instrumentation import instrument

        return instrument
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
