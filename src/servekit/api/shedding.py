"""Refusing predictions of an overloaded model at the connection, before the app sees them.

Under overload most requests are refused, so a refusal must cost next to nothing: here it is
decided from the request line alone, once the headers are parsed, and answered with one write.
No task, no ASGI cycle, no body parsing; the connection reads and throws away the body.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic_core import to_json

from servekit.exceptions import Overloaded
from servekit.monitoring.metrics import REQUEST_LATENCY, REQUESTS
from servekit.monitoring.middleware import EXPRESS_HEADERS_RAW, request_id_in

log = logging.getLogger("servekit.access")

STATE_KEY = "servekit.shedder"
"""Where the app's lifespan state holds the Shedder, for the HTTP protocol to find."""

ADMITTED = "servekit.admitted"
"""Set in a request's scope once it passed its gate: the app need not check again."""

RETRY_SPREAD_S = 3
"""A refusal's Retry-After is the model's own (1 s) plus 0 to 2 s at random."""

LOG_EVERY_S = 1.0
"""Refusals are logged as one line per route this often (the first one at once), not one each."""


class Admit(Protocol):
    """An executor's admission check (``Executor.admit``)."""

    def __call__(self, rows: int, *, in_progress: int | None = None) -> None:
        """Raise Overloaded if ``rows`` more rows would be refused now."""


@dataclass(eq=False, slots=True)
class Gate:
    """One model's door at the connections: the requests let through and not answered yet.

    The count, not the model's queue, is what the next request is checked against: requests
    let through in one pass of the event loop reach the queue only later.
    """

    admit: Admit
    in_progress: int = 0

    def release(self) -> None:
        """One request let through here has its answer (or lost its client)."""
        self.in_progress -= 1


@dataclass(eq=False, slots=True)
class Refusal:
    """A refusal made here: the whole HTTP answer, and the Retry-After it gives."""

    answer: bytes
    retry_after: int


@dataclass(eq=False)
class _Route:
    """One prediction route's refusals: its metric series, and the count since its last log line."""

    method: str
    path: str
    requests: Any
    latency: Any
    count: int = 0
    message: str = ""
    flush: asyncio.TimerHandle | None = None


@dataclass
class Shedder:
    """Answers 503 for a prediction route whose model would refuse one more row now."""

    gates: Mapping[bytes, Gate]
    """Prediction paths (as sent, without the query string) to their model's gate."""
    _routes: dict[tuple[bytes, bytes], _Route] = field(init=False, default_factory=dict)

    def gate(self, method: bytes, path: bytes) -> Gate | None:
        """The gate of a prediction request (by its method and raw path), None for anything else."""
        if method != b"POST" and method != b"GET":
            return None
        return self.gates.get(path)

    def refusal(
        self,
        gate: Gate,
        method: bytes,
        path: bytes,
        headers: list[tuple[bytes, bytes]],
        keep_alive: Callable[[], bool],
        default_headers: list[tuple[bytes, bytes]],
    ) -> Refusal | None:
        """None if the request passes ``gate`` (the caller releases the gate once it is answered),
        else its refusal.

        ``headers`` are the request's (names lower-cased); ``keep_alive`` says whether the
        connection stays open after an answer; ``default_headers`` are the server's own for
        every answer (its Date).
        """
        try:
            gate.admit(1, in_progress=gate.in_progress)
        except Overloaded as exc:
            start = time.perf_counter()
            # NOTE: spread over a few seconds: clients refused together, that all waited the
            # same second, would come back together, a wave of refusals stalling the loop.
            retry_after = math.ceil(exc.retry_after) + random.randrange(RETRY_SPREAD_S)
            answer = _answer(str(exc), retry_after, request_id_in(headers), keep_alive())
            self._record(method, path, str(exc), time.perf_counter() - start)
            return Refusal(b"".join((*_header_lines(default_headers), answer)), retry_after)
        gate.in_progress += 1
        return None

    def _record(self, method: bytes, path: bytes, message: str, elapsed: float) -> None:
        route = self._routes.get((method, path))
        if route is None:
            m, p = method.decode("latin-1"), path.decode("latin-1")
            route = self._routes[(method, path)] = _Route(
                m, p, REQUESTS.labels(m, p, "503"), REQUEST_LATENCY.labels(m, p)
            )
        route.requests.inc()
        route.latency.observe(elapsed)
        route.message = message
        if route.flush is None:
            # The first refusal of a burst is logged at once; the rest as a count each second.
            _log(route, 1)
            route.flush = asyncio.get_running_loop().call_later(LOG_EVERY_S, self._flush, route)
        else:
            route.count += 1

    def _flush(self, route: _Route) -> None:
        if route.count == 0:
            route.flush = None
            return
        _log(route, route.count)
        route.count = 0
        route.flush = asyncio.get_running_loop().call_later(LOG_EVERY_S, self._flush, route)


def _log(route: _Route, count: int) -> None:
    log.info(
        "refused %d request(s) to %s %s: %s",
        count,
        route.method,
        route.path,
        route.message,
        extra={"status": 503, "route": route.path, "method": route.method, "refused": count},
    )


def _header_lines(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [b"HTTP/1.1 503 Service Unavailable\r\n", *(b"%s: %s\r\n" % h for h in headers)]


def _answer(message: str, retry_after: int, request_id: str, keep_alive: bool) -> bytes:
    """The refusal after its status line and the server's own headers."""
    body = to_json({"error": "overloaded", "message": f"{message}; retry later"})
    return b"".join(
        (
            b"content-type: application/json\r\ncontent-length: %d\r\nretry-after: %d\r\n"
            b"x-request-id: %s\r\n" % (len(body), retry_after, request_id.encode()),
            EXPRESS_HEADERS_RAW,
            b"" if keep_alive else b"connection: close\r\n",
            b"\r\n",
            body,
        )
    )
