"""The prediction use-case: the steps of every prediction, whichever front it came through.

A front (the JSON body, the query string, a file upload) turns its HTTP form into a ``Front``
and calls ``Predict``; nothing of a prediction is written anywhere else.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol, TypeVar

from pydantic_core import to_json

from servekit.inputs.base import Form
from servekit.serving.service import ModelService, answer_json
from servekit.storage.predictions import PredictionLog

T = TypeVar("T")


class Front(Protocol):
    """What the use-case needs of a request, in whichever form it arrived."""

    @property
    def admitted(self) -> bool:
        """True when the connection already let the request through its model's gate."""
        ...

    @property
    def deadline(self) -> float:
        """The monotonic time by which the answer is due."""
        ...

    def authenticate(self) -> Awaitable[int | None]:
        """The caller's user id (None for an anonymous caller where that is allowed).

        Raises NotAuthenticated; called before anything of the input is read or parsed.
        """
        ...

    async def form(self) -> Form:
        """The input as sent, once the caller is known (its media type checked, its body read)."""
        ...

    def guard(self, work: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run ``work``, and end it if the client goes away."""
        ...


class Predict:
    """One model version's prediction, for every front: admit, authenticate, decode, run, log, answer."""

    def __init__(self, service: ModelService, log: PredictionLog | None) -> None:
        self.service = service
        self.codec = service.codec
        self.log = log
        m = service.manifest
        # The answer's start, up to its list of rows: made once.
        self.head = to_json({"model": m.name, "version": m.version})[:-1] + b',"predictions":['

    async def __call__(self, front: Front) -> bytes:
        """The answer's JSON body: ``{"model", "version", "predictions": [one per row]}``."""
        service = self.service
        # NOTE: first whether the model takes one more row at all, then who asks, and only then
        # the input: under overload a refusal costs a check, and a stranger's megabyte of
        # made-up fields (or of upload) costs a header lookup, not a validation.
        if not front.admitted:
            service.executor.admit(1)
        user_id = await front.authenticate()
        form = await front.form()
        codec = self.codec
        # Rows of features are decoded at once, images on threads: no waiting where none is due.
        rows = codec.decode_now(form)
        if rows is None:
            rows = await codec.decode(form)
        start = time.perf_counter()
        predictions = await front.guard(service.predict(rows, deadline=front.deadline))
        latency_ms = (time.perf_counter() - start) * 1000
        answers = [(p.id, p.output_json(), p.warnings_json()) for p in predictions]
        if self.log is not None:
            m = service.manifest
            self.log.record(
                model=m.name,
                version=m.version,
                inputs=codec.logged(rows),
                answers=answers,
                latency_ms=latency_ms,
                user_id=user_id,
            )
        if not codec.names_rows:
            return b"%s%s]}" % (self.head, b",".join([answer_json(*a) for a in answers]))
        fields = codec.answer_fields
        return b"%s%s]}" % (
            self.head,
            b",".join([answer_json(*a, fields(row)) for a, row in zip(answers, rows, strict=True)]),
        )
