"""The HTTP/1.1 connection: uvicorn's httptools protocol, with bounds on header size and on time."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from servekit.api.shedding import ADMITTED, Gate, Refusal, Shedder
from servekit.api.shedding import STATE_KEY as SHEDDER
from servekit.config import LimitSettings

log = logging.getLogger("servekit.http")

# What the connection's one timer is waiting for.
_NONE = 0  # the app has the whole request: its own deadline applies
_HEADERS = 1  # the rest of a request line and headers (from the connection or a first byte)
_BODY = 2  # the rest of a body the app is reading
_IDLE = 3  # a next request on a kept-alive connection
_DRAIN = 4  # the rest of a body the app answered without reading (413), thrown away
_LINGER = 5  # the client's reading of a refusal, before the connection is closed


class HttpConfig(uvicorn.Config):
    """uvicorn's Config serving with BoundedHttpProtocol; pickled whole to each worker process."""

    def __init__(self, app: Any, *, limits: LimitSettings, **kwargs: Any) -> None:
        super().__init__(app, http=BoundedHttpProtocol, **kwargs)
        self.limits = limits


class _CycleTransport:
    """The connection as a request's cycle sees it: its close may wait for the client to read.

    uvicorn closes at once after an answer with ``Connection: close`` (urllib asks for it), and a
    close with the body's rest unread makes the kernel send a reset, which can destroy the answer
    before the client, still writing, reads it. ``write`` and ``is_closing`` are the transport's own.
    """

    def __init__(self, transport: asyncio.Transport, close: Callable[[], None]) -> None:
        self.write = transport.write
        self.is_closing = transport.is_closing
        self.close = close


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, which neither bounds the headers nor times a request out.

    With the limits of LimitSettings:

    - The request line and headers may take ``max_header_bytes``; the parser is never fed more of
      them, so a huge header costs no more than a small one: 431, then the connection closes.
    - They must end within ``header_timeout_s`` of the connection or of the request's first byte
      (408), a body within ``body_timeout_s`` of its headers (408, and the app sees a disconnect),
      and a kept-alive connection closes after ``keep_alive_timeout_s`` without a request.
    - A body the app answered without reading (413) is read and thrown away, up to
      ``drain_bytes`` or ``drain_timeout_s``, so that a client still writing it reads the answer
      rather than a reset: parsed, when the connection is kept alive, so that it serves again;
      else (``Connection: close``, and after a refusal) not parsed, once a FIN is sent.

    One timer per connection does it all: a phase and a deadline are set on each step (a few
    attribute writes on a request's path), and the timer, when it fires early, sleeps again until
    the deadline. NOTE: this leans on uvicorn's internals (its parser callbacks and ``cycle``).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, HttpConfig):
            raise TypeError("BoundedHttpProtocol serves with an HttpConfig, which holds its limits")
        self.bounds = config.limits
        self._phase = _NONE
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        # From a request's (or the connection's) start to its headers' end.
        self._in_headers = True
        self._header_bytes = 0
        self._message_done = True  # the parser has the whole of the current request
        self._drain_left = 0
        self._lingering = False
        self._handed_over = False  # upgraded to a WebSocket protocol
        self._cycle_transport: _CycleTransport | None = None
        self._shedding = False  # the current request was refused here: its body is nobody's
        self._shedder: Shedder | None = app_state.get(SHEDDER)
        self._gate: Gate | None = None  # the gate the request in progress passed
        self._quiet_until = 0.0  # no refusal is written on this connection before then
        self._waiting: Refusal | None = None  # a refusal waiting for _quiet_until
        self._later: asyncio.TimerHandle | None = None  # when it is written

    # The one timer.

    def _arm(self, phase: int, timeout: float) -> None:
        self._phase = phase
        self._deadline = deadline = self.loop.time() + timeout
        timer = self._timer
        if timer is not None:
            if timer.when() <= deadline:
                return  # it fires first, then sleeps until the deadline
            timer.cancel()
        self._timer = self.loop.call_at(deadline, self._expire)

    def _stop_timer(self) -> None:
        self._phase = _NONE
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        phase = self._phase
        if phase == _NONE or self.transport.is_closing():
            return
        if self.loop.time() < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._expire)
        elif phase in (_HEADERS, _BODY) and self.flow.read_paused:
            # The server stopped reading (a pipelined request waits its turn): the client is not late.
            timeout = (
                self.bounds.header_timeout_s if phase == _HEADERS else self.bounds.body_timeout_s
            )
            self._arm(phase, timeout)
        elif phase == _HEADERS:
            self._headers_timed_out()
        elif phase == _BODY:
            self._body_timed_out()
        else:  # idle, drained or lingered long enough
            self.transport.close()

    def _headers_timed_out(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # The next request is slow while this one is answered; its timeout starts afresh.
            self._arm(_HEADERS, self.bounds.header_timeout_s)
        elif self._header_bytes:
            timeout = self.bounds.header_timeout_s
            self._refuse(408, "header_timeout", f"the request headers took over {timeout:g} s")
        else:  # nothing was sent: nobody to answer
            self.transport.close()

    def _body_timed_out(self) -> None:
        cycle = self.cycle
        if cycle is None:  # pragma: no cover - a body always has its cycle
            self.transport.close()
            return
        if not cycle.response_started:
            timeout = self.bounds.body_timeout_s
            self._write_error(408, "body_timeout", f"the request body took over {timeout:g} s")
        # The app's receive() answers http.disconnect from now on, and its send() writes nothing.
        cycle.disconnected = True
        cycle.keep_alive = False
        cycle.message_event.set()
        self.transport.close()

    # Refusals the app never sees.

    def _write_error(self, status: int, error: str, message: str) -> None:
        body = json.dumps({"error": error, "message": message}, separators=(",", ":")).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % len(body)
        )
        self.transport.write(b"".join([*head, body]))
        client = self.client[0] if self.client else None
        log.info("%s: %s", error, message, extra={"status": status, "client": client})

    def _refuse(self, status: int, error: str, message: str) -> None:
        """Answer the request being read, read no more of it, and close once the client has read."""
        self._in_headers = False
        if self.cycle is not None and not self.cycle.response_complete:
            # NOTE: an answer here would cut into the one the app is writing.
            self.transport.close()
            return
        self._write_error(status, error, message)
        self._linger()

    def _linger(self) -> None:
        # Our FIN says the answer is whole; what the client still sends is read and thrown away,
        # since closing with unread data would send a reset that may destroy the answer.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._lingering = True
        self._drain_left = self.bounds.drain_bytes
        self._arm(_LINGER, self.bounds.drain_timeout_s)

    def _close_after_answer(self) -> None:
        """The cycle's close: lingers when its answer is whole but the request's body is not."""
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.response_complete
            and not self._message_done
            and not self.pipeline
            and not self.transport.is_closing()
        ):
            self._linger()
        else:
            self.transport.close()

    # uvicorn's protocol and parser callbacks.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header timeout: the first request is due from now on."""
        super().connection_made(transport)
        self._cycle_transport = _CycleTransport(transport, self._close_after_answer)
        self._arm(_HEADERS, self.bounds.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer; uvicorn tells the app its client is gone."""
        self._stop_timer()
        self._pass_gate()
        if self._later is not None:
            self._later.cancel()
            self._later = None
        super().connection_lost(exc)

    def _keeps_alive(self) -> bool:
        return self.parser.get_http_version() == "1.1" and self.parser.should_keep_alive()

    def _write_refusal(self, answer: Refusal) -> None:
        """Write a refusal made here now, or once this connection's quiet time is over.

        A client that retries at once would otherwise get refusals as fast as the server can
        write them, and the event loop would spend itself refusing: each connection is written
        at most one refusal per half to all of a Retry-After, the next one waiting its turn
        unread beyond the request it answers. A client that honours the Retry-After never
        waits; one that asks again at once is still read at once, so that when the model has
        room its request is let in then, not after a wait. The random share keeps clients
        refused together from all coming back together.
        """
        if self.loop.time() >= self._quiet_until:
            self._write_now(answer)
            return
        self.flow.pause_reading()  # nothing more of this client until its refusal is written
        self._waiting = answer
        self._later = self.loop.call_at(self._quiet_until, self._write_later)

    def _write_now(self, answer: Refusal) -> None:
        self.transport.write(answer.answer)
        pause = answer.retry_after * (0.5 + random.random() / 2)
        self._quiet_until = self.loop.time() + pause

    def _write_later(self) -> None:
        answer, self._waiting, self._later = self._waiting, None, None
        if answer is None or self.transport.is_closing():
            return
        self._write_now(answer)
        self.flow.resume_reading()
        if not self._message_done:  # the body's rest is read and thrown away, as after a 413
            self._drain_left = self.bounds.drain_bytes
            self._arm(_DRAIN, self.bounds.drain_timeout_s)

    def _flush_later(self) -> None:
        """A pipelined request follows a refusal still waiting: the refusal goes first, now."""
        answer, self._waiting = self._waiting, None
        if answer is not None and self._later is not None:
            self._later.cancel()
            self._later = None
            self._write_now(answer)
            self.flow.resume_reading()

    def _pass_gate(self) -> None:
        if self._gate is not None:
            self._gate.release()
            self._gate = None

    def data_received(self, data: bytes) -> None:
        """Count the bytes a request's headers take, or a drain's, then parse them."""
        if self._lingering:
            self._drain_left -= len(data)
            if self._drain_left < 0:
                self.transport.close()
            return
        if self._in_headers:
            if self._phase != _HEADERS:  # the first byte of a request
                self._arm(_HEADERS, self.bounds.header_timeout_s)
            room = self.bounds.max_header_bytes - self._header_bytes
            if len(data) <= room:
                self._header_bytes += len(data)
            else:
                # Feed the parser no more than the limit: the headers must have ended within it.
                self._header_bytes += room
                if room > 0:
                    super().data_received(data[:room])
                    if self.transport.is_closing() or self._handed_over:
                        return
                if self._in_headers:
                    limit = self.bounds.max_header_bytes
                    self._refuse(
                        431,
                        "headers_too_large",
                        f"the request line and headers are larger than the limit of {limit} bytes",
                    )
                    return
                data = data[room:]
        elif self._phase == _DRAIN:
            self._drain_left -= len(data)
            if self._drain_left < 0:
                self.transport.close()
                return
        super().data_received(data)

    def handle_websocket_upgrade(self) -> None:
        """Hand the connection to the WebSocket protocol, without this one's timer."""
        self._handed_over = True
        self._stop_timer()
        super().handle_websocket_upgrade()

    def on_headers_complete(self) -> None:
        """Refuse a prediction of an overloaded model here; else start the body timeout and the app."""
        self._in_headers = False
        self._message_done = False
        self._flush_later()
        if self._shedder is not None and self._shed():
            return
        self._arm(_BODY, self.bounds.body_timeout_s)
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = cast(asyncio.Transport, self._cycle_transport)

    def on_body(self, body: bytes) -> None:
        """The body goes to the app, unless the request was refused here."""
        if not self._shedding:
            super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is whole: the next one's headers are counted from zero."""
        self._message_done = True
        self._in_headers = True
        self._header_bytes = 0
        if self._phase == _DRAIN:  # already answered: the connection is free again
            self._arm(_IDLE, self.bounds.keep_alive_timeout_s)
        elif self._phase == _BODY:
            self._phase = _NONE
        if self._shedding:
            self._shedding = False
            return
        super().on_message_complete()

    def _shed(self) -> bool:
        """Answer the request now if the shedder refuses it (no app, no task); True if it did."""
        assert self._shedder is not None
        method, path = self.parser.get_method(), self.url.partition(b"?")[0]
        gate = self._shedder.gate(method, path)
        # NOTE: an answer now would overtake the one the app is writing (or a pipelined one's).
        busy = self.pipeline or (self.cycle is not None and not self.cycle.response_complete)
        if gate is None or busy:
            return False
        answer = self._shedder.refusal(
            gate,
            method,
            path,
            self.headers,
            self._keeps_alive,
            self.server_state.default_headers,
        )
        if answer is None:
            self._gate = gate
            self.scope[ADMITTED] = True  # type: ignore[literal-required]
            return False
        self._shedding = True
        self.server_state.total_requests += 1
        if not self._keeps_alive():
            self.transport.write(answer.answer)
            self._linger()
            return True
        self._write_refusal(answer)
        if (
            self._later is None and not self._message_done
        ):  # the body's rest is read and thrown away, as after a 413
            self._drain_left = self.bounds.drain_bytes
            self._arm(_DRAIN, self.bounds.drain_timeout_s)
        return True

    def on_response_complete(self) -> None:
        """uvicorn's, with this connection's timer in place of its keep-alive timer."""
        self._pass_gate()
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self._lingering:  # answered with Connection: close
            return
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif not self._message_done:
            self._drain_left = self.bounds.drain_bytes
            self._arm(_DRAIN, self.bounds.drain_timeout_s)
        elif not (self._in_headers and self._header_bytes):
            self._arm(_IDLE, self.bounds.keep_alive_timeout_s)
