"""The HTTP forms of a prediction, each turned into the one call of the use-case (``serving.Front``)."""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from starlette.requests import Request

from servekit.api.lifetime import request_deadline, until_disconnected
from servekit.api.media import require_json
from servekit.api.shedding import ADMITTED
from servekit.inputs.base import Form, JsonForm, QueryForm

T = TypeVar("T")


class HttpFront:
    """What every front shares: admission seen at the connection, the caller, the deadline."""

    __slots__ = ("request",)

    def __init__(self, request: Request) -> None:
        self.request = request

    @property
    def admitted(self) -> bool:
        """Whether the connection already admitted this request at its model's gate."""
        return ADMITTED in self.request.scope

    @property
    def deadline(self) -> float:
        """From the server's request timeout, shortened by ``X-Request-Timeout``."""
        request = self.request
        return request_deadline(request, request.app.state.settings.limits.request_timeout_s)

    def authenticate(self) -> Awaitable[int | None]:
        """The caller's user id, from its token or API key."""
        user_id: Awaitable[int | None] = self.request.app.state.credentials.user_id(self.request)
        return user_id

    async def form(self) -> Form:
        """The front's input; each front says how it reads it."""
        raise NotImplementedError

    def guard(self, work: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run ``work``; a client that goes away ends it (ClientDisconnected)."""
        return until_disconnected(work, self.request.receive)


class JsonFront(HttpFront):
    """A JSON body, already read (by the express lane, or by the router's route)."""

    __slots__ = ("body",)

    def __init__(self, request: Request, body: bytes) -> None:
        super().__init__(request)
        self.body = body

    async def form(self) -> Form:
        """The body, once its Content-Type says JSON."""
        require_json(self.request.headers.get("content-type"))
        return JsonForm(self.body)


class QueryFront(HttpFront):
    """One row in the query string of a GET."""

    __slots__ = ()

    async def form(self) -> Form:
        """The query string's parameters (the last value of a repeated one)."""
        return QueryForm(dict(self.request.query_params))
