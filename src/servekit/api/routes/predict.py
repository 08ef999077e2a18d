"""Prediction routes, generated per model so that each shows its own schema in /docs."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import to_json

from servekit.api.deps import ServedDep
from servekit.api.errors import body_validation_error
from servekit.api.lifetime import request_deadline, until_disconnected
from servekit.api.media import require_json
from servekit.api.request_models import body_adapter, body_type, example_instance, instance_model
from servekit.api.schemas import ErrorPublic, PredictResponse
from servekit.api.shedding import ADMITTED
from servekit.runtimes.base import Row
from servekit.serving.registry import ServedModels
from servekit.serving.service import ModelService, answer_json

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
BodyHandler = Callable[[Request, bytes], Coroutine[Any, Any, Response]]
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": PredictResponse},
    400: {
        "model": ErrorPublic,
        "description": "The body is not valid JSON, or X-Request-Timeout is not a positive number",
    },
    401: {
        "model": ErrorPublic,
        "description": "No valid token or API key (unless anonymous predictions are allowed)",
    },
    404: {"model": ErrorPublic, "description": "No such model or version"},
    413: {"model": ErrorPublic, "description": "The body is over the size limit"},
    422: {
        "model": ErrorPublic,
        "description": "Invalid input; out of distribution under policy reject; or a row too "
        "extreme for the model, whose output is then not a finite number (`non_finite_output`)",
    },
    500: {"model": ErrorPublic, "description": "The model failed on this request (it is logged)"},
    503: {
        "model": ErrorPublic,
        "description": "The model's queue is full: retry after Retry-After seconds",
    },
    504: {
        "model": ErrorPublic,
        "description": "The request's deadline passed before its answer was ready",
    },
}
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{status: answer for status, answer in RESPONSES.items() if status != 413},
    400: {"model": ErrorPublic, "description": "X-Request-Timeout is not a positive number"},
}


async def _answer(
    service: ModelService, head: bytes, rows: list[Row], request: Request, user_id: int | None
) -> Response:
    state = request.app.state
    start = time.perf_counter()
    deadline = request_deadline(request, state.settings.limits.request_timeout_s)
    predictions = await until_disconnected(
        service.predict(rows, deadline=deadline), request.receive
    )
    latency_ms = (time.perf_counter() - start) * 1000
    answers = [(p.id, p.output_json(), p.warnings_json()) for p in predictions]
    if state.prediction_log is not None:
        m = service.manifest
        state.prediction_log.record(
            model=m.name,
            version=m.version,
            inputs=rows,
            answers=answers,
            latency_ms=latency_ms,
            user_id=user_id,
        )
    # The body as to_json would write {"model", "version", "predictions"}, from the answers' texts.
    body = b"%s%s]}" % (head, b",".join([answer_json(*a) for a in answers]))
    return Response(body, media_type="application/json")


def _head(service: ModelService) -> bytes:
    """The start of the model's answers, up to the list of rows: made once, at the route's making."""
    m = service.manifest
    return to_json({"model": m.name, "version": m.version})[:-1] + b',"predictions":['


def _endpoint(
    handler: Callable[..., Awaitable[Response]], param: inspect.Parameter, service: ModelService
) -> Callable[..., Awaitable[Response]]:
    # NOTE: FastAPI reads the signature; setting it lets one closure take a type built at run time.
    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    handler.__signature__ = inspect.Signature([param, request])  # type: ignore[attr-defined]
    handler.features = [f.name for f in service.manifest.inputs]  # type: ignore[attr-defined]
    return handler


class LeanRoute(APIRoute):
    """A route documented by FastAPI from its endpoint's signature, but served by ``serve``.

    The hot path skips FastAPI's per-request dependency solving and model building: ``serve``
    parses and validates the raw body in one pass (the same rules the documented schema shows).
    The express lane calls it with the body it read; the router, through ``handler``.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        serve: BodyHandler,
        service: ModelService,
        **options: Any,
    ) -> None:
        self.serve = serve  # NOTE: set before APIRoute.__init__, which asks for the handler
        self.service = service
        """The model this route predicts with (its executor admits or refuses requests)."""
        super().__init__(path, endpoint, **options)

    async def handler(self, request: Request) -> Response:
        """The route served through the app's router: the body read by Starlette."""
        return await self.serve(request, await request.body())

    def get_route_handler(self) -> Handler:
        """The lean handler, in place of FastAPI's generated one."""
        return self.handler


def _post(service: ModelService, max_rows: int, path: str, **options: Any) -> LeanRoute:
    manifest = service.manifest
    example = example_instance(manifest)
    examples: Any = {
        "one row": {"value": example},
        "a batch": {"value": {"instances": [example, example]}},
    }
    annotation = Annotated[body_type(manifest, max_rows), Body(openapi_examples=examples)]  # type: ignore[valid-type]
    adapter = body_adapter(manifest, max_rows)
    head = _head(service)

    async def documented(body: BaseModel, request: Request) -> Response:
        raise NotImplementedError  # never called: LeanRoute serves ``serve``

    async def serve(request: Request, body: bytes) -> Response:
        # NOTE: first whether the model takes one more row at all, then who asks and in what
        # form, before anything of the body is parsed: under overload a refusal costs a check,
        # and a stranger's megabyte of made-up fields costs a header lookup, not a validation.
        admit_one(service, request)
        user_id = await request.app.state.credentials.user_id(request)
        require_json(request.headers.get("content-type"))
        try:
            parsed = adapter.validate_json(body)
        except ValidationError as exc:
            raise body_validation_error(exc) from None
        return await _answer(service, head, parsed.get("instances", [parsed]), request, user_id)

    param = inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return LeanRoute(
        path,
        _endpoint(documented, param, service),
        serve=serve,
        service=service,
        methods=["POST"],
        **options,
    )


def _get(service: ModelService) -> Callable[..., Awaitable[Response]]:
    query = instance_model(service.manifest, strict=False, suffix="Query")
    head = _head(service)

    async def predict_query(params: BaseModel, request: Request) -> Response:
        return await _answer(service, head, [params.model_dump()], request, request.state.user_id)

    param = inspect.Parameter(
        "params", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[query, Query()]
    )
    return _endpoint(predict_query, param, service)


async def _caller(request: Request) -> None:
    request.state.user_id = await request.app.state.credentials.user_id(request)


def admit_one(service: ModelService, request: Request) -> None:
    """Refuse the request (Overloaded) if its model takes no more rows now.

    Not checked again for a request the connection already let through its gate.
    """
    if ADMITTED not in request.scope:
        service.executor.admit(1)


def _admission(service: ModelService) -> Callable[[Request], None]:
    def admitted(request: Request) -> None:
        admit_one(service, request)

    return admitted


def _max_rows(service: ModelService, server_limit: int) -> int:
    own = service.manifest.batching.max_request_rows
    return server_limit if own is None else min(own, server_limit)


def _add_query(router: APIRouter, service: ModelService, path: str, **options: Any) -> None:
    router.add_api_route(
        path,
        _get(service),
        methods=["GET"],
        # Solved before the query string is validated: under overload a refusal is a check, and
        # a stranger's query string is not looked at.
        dependencies=[Depends(_admission(service)), Depends(_caller)],
        responses=QUERY_RESPONSES,
        response_model=None,
        **options,
    )


def model_routes(served: ServedModels, *, max_batch_rows: int) -> APIRouter:
    """POST and GET predict for each model's latest version, and POST for each pinned version."""
    router = APIRouter()
    for name, versions in served.services.items():
        latest = served.get(name)
        tags: list[str | Any] = [f"model: {name}"]
        doc = f"Predict with the latest version of {name} ({latest.manifest.version}). {latest.manifest.description}"
        router.routes.append(
            _post(
                latest,
                _max_rows(latest, max_batch_rows),
                f"/models/{name}/predict",
                tags=tags,
                summary=f"Predict with {name}",
                description=doc + " Send one row, or up to the limit in `instances`.",
                responses=RESPONSES,
                response_model=None,
                operation_id=f"predict_{name}",
            )
        )
        _add_query(
            router,
            latest,
            f"/models/{name}/predict",
            tags=tags,
            summary=f"Predict one row of {name} from the query string",
            description=doc,
            operation_id=f"predict_{name}_query",
        )
        for version, service in versions.items():
            router.routes.append(
                _post(
                    service,
                    _max_rows(service, max_batch_rows),
                    f"/models/{name}/versions/{version}/predict",
                    tags=tags,
                    summary=f"Predict with {name} version {version}",
                    responses=RESPONSES,
                    response_model=None,
                    operation_id=f"predict_{name}_v{version}",
                )
            )
            _add_query(
                router,
                service,
                f"/models/{name}/versions/{version}/predict",
                tags=tags,
                summary=f"Predict one row of {name} version {version} from the query string",
                operation_id=f"predict_{name}_v{version}_query",
            )
    router.add_api_route(
        "/models/{name}/predict", _unknown, methods=["GET", "POST"], include_in_schema=False
    )
    router.add_api_route(
        "/models/{name}/versions/{version}/predict",
        _unknown,
        methods=["GET", "POST"],
        include_in_schema=False,
    )
    return router


async def _unknown(served: ServedDep, name: str, version: str | None = None) -> None:
    # Reached only for names or versions that no route above serves: get() raises a 404 naming what is served.
    served.get(name, version)
