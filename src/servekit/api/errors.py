"""Error handlers: every refusal is JSON with a code, a message saying what is wrong, and details."""

from __future__ import annotations

import difflib
import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from servekit.exceptions import (
    ClientDisconnected,
    Conflict,
    DeadlineExceeded,
    FileTooLarge,
    Forbidden,
    InputError,
    InvalidHeader,
    InvalidImage,
    MethodNotAllowed,
    ModelNotFound,
    NonFiniteOutputError,
    NotAuthenticated,
    NotFound,
    OutOfDistributionError,
    Overloaded,
    PredictionError,
    TooManyAttempts,
    UnsupportedMediaType,
)
from servekit.inputs.base import FormValidationError
from servekit.inputs.tabular_schema import BATCH_TAG, INSTANCE_TAG, OVERSIZED_TAG
from servekit.monitoring.middleware import BodyTooLarge

log = logging.getLogger("servekit.api")


def error_response(
    status: int, code: str, message: str, detail: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """The one shape of every error body."""
    body: dict[str, Any] = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


MAX_REPORTED = 20
"""Problems listed in one error body; the message still counts them all."""
MAX_ECHOED = 100
"""Characters of a refused value shown back in an error (a megabyte string is not echoed)."""


def body_validation_error(exc: ValidationError, location: str = "body") -> RequestValidationError:
    """pydantic's errors of a body (or query) as FastAPI's own, located there, the first few only.

    NOTE: 80,000 unknown fields are 80,000 errors: each listed would cost the event loop a
    "did you mean" search and the client megabytes. The count is kept for the message.
    """
    total = exc.error_count()
    errors = [{**e, "loc": (location, *e["loc"])} for e in exc.errors()[:MAX_REPORTED]]
    error = RequestValidationError(errors)
    error.total = total  # type: ignore[attr-defined]
    return error


def _safe(value: Any) -> Any:
    # NaN and infinity are not JSON; show what was sent instead of failing to answer.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_ECHOED else value[:MAX_ECHOED] + "…"
    if isinstance(value, int | float | bool) or value is None:
        return value
    return None


def _loc(loc: tuple[Any, ...]) -> list[Any]:
    parts = list(loc)
    # The union's tag (instance/batch) is ours, not the client's: leave it out of the location.
    if (
        len(parts) > 1
        and parts[0] == "body"
        and parts[1] in (INSTANCE_TAG, BATCH_TAG, OVERSIZED_TAG)
    ):
        del parts[1]
    return parts


def _message(error: dict[str, Any], expected: list[str]) -> str:
    # A model of tabular features names them (``expected``); other bodies have fields.
    noun = "feature" if expected else "field"
    if error["type"] == "extra_forbidden":
        name = str(error["loc"][-1])
        if not expected:
            return f"unknown field {name!r}"
        hint = difflib.get_close_matches(name, expected, n=1)
        known = f"did you mean {hint[0]!r}?" if hint else f"expected: {', '.join(expected)}"
        return f"unknown feature {name!r} ({known})"
    if error["type"] in ("too_short", "too_long") and error["loc"][-1] == "instances":
        ctx = error.get("ctx", {})
        if error["type"] == "too_short":
            return "a batch needs at least 1 row in instances, got 0"
        return (
            f"a batch may hold at most {ctx.get('max_length')} rows, got {ctx.get('actual_length')}"
        )
    if error["type"] == "missing" and error["loc"] and error["loc"][0] in ("body", "query"):
        return (
            f"missing {noun} {error['loc'][-1]!r}"
            if len(error["loc"]) > 1
            else "a body is required"
        )
    return str(error["msg"])


def _validation_detail(exc: RequestValidationError, request: Request) -> list[dict[str, Any]]:
    route = request.scope.get("route")
    expected: list[str] = getattr(getattr(route, "endpoint", None), "features", [])
    detail = []
    for e in exc.errors()[:MAX_REPORTED]:
        item = {"loc": _loc(e["loc"]), "msg": _message(e, expected), "type": e["type"]}
        if "input" in e and _safe(e["input"]) is not None:
            item["input"] = _safe(e["input"])
        detail.append(item)
    return detail


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    for e in exc.errors():
        if e["type"] == "json_invalid":
            reason = e.get("ctx", {}).get("error", "")
            return error_response(
                400, "invalid_json", f"the body is not valid JSON: {reason}".rstrip(": ")
            )
    detail = _validation_detail(exc, request)
    total = getattr(exc, "total", len(exc.errors()))
    summary = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail[:10])
    more = f" (and {total - 10} more)" if total > 10 else ""
    return error_response(
        422, "invalid_input", f"{total} problem(s) with the request: {summary}{more}", detail
    )


_INPUT_CODES: dict[type[InputError], str] = {
    OutOfDistributionError: "out_of_distribution",
    NonFiniteOutputError: "non_finite_output",
    InvalidImage: "invalid_image",
}


async def _form_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FormValidationError)
    return await _validation(request, body_validation_error(exc.error, exc.location))


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    code = _INPUT_CODES.get(type(exc), "invalid_input")
    return error_response(422, code, str(exc), exc.errors)


async def _file_too_large(request: Request, exc: Exception) -> JSONResponse:
    return error_response(413, "file_too_large", str(exc))


async def _too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    return error_response(413, "body_too_large", exc.detail)


async def _overloaded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Overloaded)
    response = error_response(503, "overloaded", f"{exc}; retry later")
    response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return response


async def _deadline(request: Request, exc: Exception) -> JSONResponse:
    return error_response(504, "deadline_exceeded", str(exc))


async def _invalid_header(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, "invalid_header", str(exc))


async def _disconnected(request: Request, exc: Exception) -> Response:
    # Nobody reads this answer; 499 (nginx's "client closed request") keeps it apart in the metrics.
    return Response(status_code=499)


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return error_response(409, "conflict", str(exc))


async def _not_authenticated(request: Request, exc: Exception) -> JSONResponse:
    response = error_response(401, "not_authenticated", str(exc))
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return error_response(403, "forbidden", str(exc))


async def _too_many(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyAttempts)
    response = error_response(429, "too_many_attempts", str(exc))
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _unsupported_media(request: Request, exc: Exception) -> JSONResponse:
    return error_response(415, "unsupported_media_type", str(exc))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _prediction_failed(request: Request, exc: Exception) -> JSONResponse:
    log.error("prediction failed: %s", exc, extra={"request_id": request.state.request_id})
    return error_response(
        500, "prediction_failed", "the model failed on this request; the error is logged"
    )


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


CATCH_ALL = "catch_all"
"""An endpoint with this attribute set answers only for paths no other route serves (a 404)."""


def _methods(request: Request, routes: list[Any]) -> list[str]:
    return [
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (Starlette tells only the first one's).

    A catch-all route (which names what is served instead) counts only where nothing else is.
    """
    # Each method asked of the router as it is (included routers too), not read off its routes.
    routes = request.app.router.routes
    specific = [r for r in routes if not getattr(getattr(r, "endpoint", None), CATCH_ALL, False)]
    return _methods(request, specific) or _methods(request, routes)


def _http_message(request: Request, exc: HTTPException, allowed: list[str]) -> str:
    where = f"{request.method} {request.url.path}"
    if exc.status_code == 404 and exc.detail == HTTPStatus.NOT_FOUND.phrase:
        return f"nothing is served at {request.url.path} (the API is listed at /docs)"
    if exc.status_code == 405:
        return f"{where} is not served; this path takes {', '.join(allowed)}"
    return str(exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's and FastAPI's own refusals (no such route, method not allowed, a form that
    # cannot be parsed), in servekit's shape rather than FastAPI's {"detail": ...}.
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    allowed = allowed_methods(request) if exc.status_code == 405 else []
    if allowed:
        headers["Allow"] = ", ".join(allowed)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    response = error_response(exc.status_code, code, _http_message(request, exc, allowed))
    response.headers.update(headers)
    return response


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MethodNotAllowed)
    where = f"{request.method} {request.url.path}"
    message = f"{where} is not served; this path takes {', '.join(exc.allowed)}"
    if exc.reason:
        message += f" ({exc.reason})"
    response = error_response(405, "method_not_allowed", message)
    response.headers["Allow"] = ", ".join(exc.allowed)
    return response


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    # Starlette's last resort answers plain text; the error itself is logged (and re-raised) by it.
    return error_response(
        500, "internal_error", "the server could not answer; the error is in its log"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register servekit's handlers on the app."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(FormValidationError, _form_error)
    app.add_exception_handler(ModelNotFound, _not_found)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(TooManyAttempts, _too_many)
    app.add_exception_handler(BodyTooLarge, _too_large)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(DeadlineExceeded, _deadline)
    app.add_exception_handler(InvalidHeader, _invalid_header)
    app.add_exception_handler(ClientDisconnected, _disconnected)
    app.add_exception_handler(PredictionError, _prediction_failed)
    app.add_exception_handler(UnsupportedMediaType, _unsupported_media)
    app.add_exception_handler(FileTooLarge, _file_too_large)
    app.add_exception_handler(MethodNotAllowed, _method_not_allowed)
    app.add_exception_handler(HTTPException, _http_error)
    # NOTE: by status, not as Exception: the express lane looks handlers up by the error's
    # classes, and logs what none of them handles itself.
    app.add_exception_handler(500, _internal_error)
