"""servekit's request monitoring for any FastAPI or Starlette app: one call, ``instrument(app)``."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import Scope

from servekit.config import LogSettings
from servekit.monitoring.exposition import Exposition
from servekit.monitoring.logging import configure_logging
from servekit.monitoring.middleware import MonitoringMiddleware, RequestRecorder

App = TypeVar("App", bound=Starlette)

NO_BODY_LIMIT = sys.maxsize
"""What ``max_body_bytes=None`` means: the app's own limits, if any, are the only ones."""


def instrument(
    app: App,
    *,
    metrics_path: str = "/metrics",
    logs: LogSettings | None = None,
    loggers: Sequence[str] = (),
    max_body_bytes: int | None = None,
) -> App:
    """Give ``app`` servekit's request metrics, JSON access logs with request ids, and ``/metrics``.

    - ``api_requests_total{method, path, status}`` and ``api_request_latency_seconds{method, path}``,
      where ``path`` is the route template (``/accounts/{account_id}``), never the raw URL, and
      ``<unmatched>`` for a request no route took.
    - Every answer carries ``X-Request-ID`` (the caller's when it is safe to echo, else a new one),
      also in ``request.state.request_id`` and in the request's access-log line.
    - ``metrics_path`` serves the Prometheus text format. With ``PROMETHEUS_MULTIPROC_DIR`` set in
      the environment before the server starts (``uvicorn --workers N``), it is the sum over all
      the server's processes, whichever of them answers the scrape.
    - ``logs`` (default: JSON lines at INFO on stderr) configures servekit's, uvicorn's and the
      ``loggers`` named here, such as the app's own; pass ``LogSettings(json_lines=False)`` for text.
      uvicorn's own access log is switched off: the line written here replaces it.
    - ``max_body_bytes`` refuses larger request bodies with a 413 (default: no limit).

    Call it once, before the app starts serving. It returns ``app``.
    """
    if getattr(app.state, "servekit_instrumented", False):
        raise RuntimeError("this app is already instrumented: call instrument(app) once")
    app.state.servekit_instrumented = True
    exposition = Exposition()
    recorder = RequestRecorder(template=RouteTemplates(app.router.routes))
    limit = NO_BODY_LIMIT if max_body_bytes is None else max_body_bytes
    app.add_middleware(MonitoringMiddleware, max_body_bytes=limit, recorder=recorder)

    async def metrics(request: Request) -> Response:
        """Prometheus exposition: this process's metrics, or the sum over the server's processes."""
        return Response(exposition.render(), media_type=CONTENT_TYPE_LATEST)

    if isinstance(app, FastAPI):
        app.add_api_route(metrics_path, metrics, methods=["GET"], include_in_schema=False)
    else:
        app.add_route(metrics_path, metrics, methods=["GET"], include_in_schema=False)
    app.router.lifespan_context = _leaving(app.router.lifespan_context, exposition)
    configure_logging(logs or LogSettings(), loggers)
    # NOTE: uvicorn's own access line would repeat, in another format, the one written here.
    logging.getLogger("uvicorn.access").disabled = True
    return app


def _leaving(
    inner: Callable[[Any], AbstractAsyncContextManager[Any]], exposition: Exposition
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """The app's own lifespan, then this process's live gauges dropped from the shared sums."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(app) as state:
                yield state
        finally:
            exposition.process_exited()

    return lifespan


class RouteTemplates:
    """The whole route template of a finished request, the prefixes of mounted apps included.

    The router leaves the matched route in the scope (Starlette 0.x leaves only its endpoint), and
    a mounted app's route knows only its own part of the path: this maps each route (and each
    endpoint) back to its whole template, built again when routes were added since.
    """

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.routes = routes
        self._by_route: dict[int, str] = {}
        self._by_endpoint: dict[int, str] = {}
        self._seen = -1

    def __call__(self, scope: Scope) -> str | None:
        """The template of the route that took this request, or None when none did."""
        if self._seen != len(self.routes):
            self._by_route, self._by_endpoint = {}, {}
            for route, endpoint, template in _templates(self.routes, ""):
                self._by_route[id(route)] = template
                self._by_endpoint.setdefault(id(endpoint), template)
            self._seen = len(self.routes)
        route = scope.get("route")
        if route is not None:
            return self._by_route.get(id(route)) or getattr(route, "path", None)
        endpoint = scope.get("endpoint")
        return None if endpoint is None else self._by_endpoint.get(id(endpoint))


def _templates(routes: Iterable[BaseRoute], prefix: str) -> Iterator[tuple[object, object, str]]:
    """(route, endpoint, whole template) for every route, mounted ones included."""
    for route in routes:
        if isinstance(route, Route | WebSocketRoute):
            yield route, route.endpoint, prefix + route.path
        elif isinstance(route, Mount):
            yield from _templates(route.routes, prefix + route.path)
            # A mounted app without routes of its own (static files, another ASGI app).
            yield route, route.app, prefix + route.path + "/{path}"
