"""Refusing predictions of an overloaded model at the connection, before the app sees them.

Under overload most requests are refused, so a refusal must cost next to nothing: here it is
decided from the request line alone, once the headers are parsed, and answered with one write.
No task, no ASGI cycle, no body parsing; the connection reads and throws away the body.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pydantic_core import to_json

from servekit.exceptions import Overloaded
from servekit.monitoring.metrics import REQUEST_LATENCY, REQUESTS
from servekit.monitoring.middleware import EXPRESS_HEADERS_RAW, request_id_in

log = logging.getLogger("servekit.access")

STATE_KEY = "servekit.shedder"
"""Where the app's lifespan state holds the Shedder, for the HTTP protocol to find."""

RETRY_AFTER_S = 1
"""The Retry-After of a refusal here, in seconds."""

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


@dataclass
class _Tally:
    """Refusals of one route since its last log line."""

    count: int = 0
    message: str = ""
    flush: asyncio.TimerHandle | None = None


@dataclass
class Shedder:
    """Answers 503 for a prediction route whose model would refuse one more row now."""

    gates: Mapping[bytes, Gate]
    """Prediction paths (as sent, without the query string) to their model's gate."""
    _tallies: dict[bytes, _Tally] = field(init=False, default_factory=dict)

    def refusal(
        self,
        method: bytes,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        keep_alive: bool,
        default_headers: list[tuple[bytes, bytes]],
    ) -> bytes | Gate | None:
        """The whole HTTP answer refusing this request; or the gate it passed, which the caller
        releases once the request is answered; or None for a request that is not a prediction.

        ``headers`` are the request's (names lower-cased), ``default_headers`` the server's own
        for every answer (its Date).
        """
        if method != b"POST" and method != b"GET":
            return None
        path = url.partition(b"?")[0]
        gate = self.gates.get(path)
        if gate is None:
            return None
        start = time.perf_counter()
        try:
            gate.admit(1, in_progress=gate.in_progress)
        except Overloaded as exc:
            answer = _answer(exc, request_id_in(headers), keep_alive, default_headers)
            self._record(method, path, str(exc), time.perf_counter() - start)
            return answer
        gate.in_progress += 1
        return gate

    def _record(self, method: bytes, path: bytes, message: str, elapsed: float) -> None:
        route = path.decode("latin-1")
        REQUESTS.labels(method.decode("latin-1"), route, "503").inc()
        REQUEST_LATENCY.labels(method.decode("latin-1"), route).observe(elapsed)
        tally = self._tallies.get(path)
        if tally is None:
            tally = self._tallies[path] = _Tally()
        tally.message = message
        if tally.flush is None:
            # The first refusal of a burst is logged at once; the rest as a count each second.
            _log(route, 1, message)
            tally.flush = asyncio.get_running_loop().call_later(
                LOG_EVERY_S, self._flush, path, route
            )
        else:
            tally.count += 1

    def _flush(self, path: bytes, route: str) -> None:
        tally = self._tallies[path]
        if tally.count == 0:
            tally.flush = None
            return
        _log(route, tally.count, tally.message)
        tally.count = 0
        tally.flush = asyncio.get_running_loop().call_later(LOG_EVERY_S, self._flush, path, route)


def _log(route: str, count: int, message: str) -> None:
    log.info(
        "refused %d request(s) to %s: %s",
        count,
        route,
        message,
        extra={"status": 503, "route": route, "refused": count},
    )


def _answer(
    exc: Overloaded, request_id: str, keep_alive: bool, default_headers: list[tuple[bytes, bytes]]
) -> bytes:
    body = to_json({"error": "overloaded", "message": f"{exc}; retry later"})
    retry_after = max(RETRY_AFTER_S, math.ceil(exc.retry_after))
    head = [
        b"HTTP/1.1 503 Service Unavailable\r\n",
        *(b"%s: %s\r\n" % pair for pair in default_headers),
        b"content-type: application/json\r\n",
        b"content-length: %d\r\nretry-after: %d\r\nx-request-id: %s\r\n"
        % (len(body), retry_after, request_id.encode()),
        EXPRESS_HEADERS_RAW,
    ]
    if not keep_alive:
        head.append(b"connection: close\r\n")
    head.append(b"\r\n")
    return b"".join([*head, body])
