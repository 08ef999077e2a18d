"""Prediction routes, generated per model so that each shows its own schema in /docs."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Query, Request, UploadFile
from fastapi.responses import Response
from fastapi.routing import APIRoute

from servekit.api.deps import ServedDep
from servekit.api.errors import CATCH_ALL
from servekit.api.fronts import JsonFront, QueryFront
from servekit.api.schemas import ErrorPublic, PredictResponse
from servekit.api.uploads import FIELD, FileFront
from servekit.exceptions import MethodNotAllowed
from servekit.inputs.base import FilesForm, QueryForm
from servekit.serving.prediction import Predict
from servekit.serving.registry import ServedModels
from servekit.serving.service import ModelService
from servekit.storage.predictions import PredictionLog
from servekit.storage.uploads import UploadStore

BATCH_HINT = " Send one input, or up to the limit in `instances`."
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
PART_OVERHEAD = 16_384
"""Bytes of a multipart body's part beyond its file (boundary and headers), at most."""
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **RESPONSES,
    413: {"model": ErrorPublic, "description": "A file (or the body) is over the size limit"},
    415: {
        "model": ErrorPublic,
        "description": "Not multipart/form-data, or a file that is not an image in an accepted format",
    },
    422: {
        "model": ErrorPublic,
        "description": "No file, too many, an empty, truncated or corrupt image, too many pixels, "
        "several frames; or out of distribution under policy reject",
    },
}
QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{status: answer for status, answer in RESPONSES.items() if status != 413},
    400: {"model": ErrorPublic, "description": "X-Request-Timeout is not a positive number"},
}


def _endpoint(
    param: inspect.Parameter, service: ModelService
) -> Callable[..., Awaitable[Response]]:
    """The documented endpoint: its signature is the form FastAPI shows; ``serve`` serves it."""

    async def documented(**_: Any) -> Response:
        raise NotImplementedError  # never called: LeanRoute serves ``serve``

    # NOTE: FastAPI reads the signature; setting it lets one closure take a type built at run time.
    request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
    documented.__signature__ = inspect.Signature([param, request])  # type: ignore[attr-defined]
    documented.features = [f.name for f in service.manifest.inputs]  # type: ignore[attr-defined]
    return documented


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
        streams: bool = False,
        max_body_bytes: int | None = None,
        **options: Any,
    ) -> None:
        self.serve = serve  # NOTE: set before APIRoute.__init__, which asks for the handler
        self.service = service
        """The model this route predicts with (its executor admits or refuses requests)."""
        self.streams = streams
        """Whether ``serve`` reads the body itself, as it arrives (an upload), instead of given it."""
        self.max_body_bytes = max_body_bytes
        """This route's body limit, where it is not the server's (images are larger than rows)."""
        super().__init__(path, endpoint, **options)

    async def handler(self, request: Request) -> Response:
        """The route served through the app's router: the body read by Starlette."""
        streamed = self.streams or request.method != "POST"
        return await self.serve(request, b"" if streamed else await request.body())

    def get_route_handler(self) -> Handler:
        """The lean handler, in place of FastAPI's generated one."""
        return self.handler


def _json(answer: bytes) -> Response:
    return Response(answer, media_type="application/json")


def _post(predict: Predict, path: str, **options: Any) -> LeanRoute:
    service, codec = predict.service, predict.codec
    example = codec.example()
    examples: Any = {
        "one row": {"value": example},
        "a batch": {"value": {"instances": [example, example]}},
    }
    annotation: Any = Annotated[codec.json_schema_type(), Body(openapi_examples=examples)]

    async def serve(request: Request, body: bytes) -> Response:
        return _json(await predict(JsonFront(request, body)))

    param = inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return LeanRoute(
        path,
        _endpoint(param, service),
        serve=serve,
        service=service,
        max_body_bytes=codec.json_body_bytes,
        methods=["POST"],
        **options,
    )


def _files(predict: Predict, store: UploadStore, path: str, **options: Any) -> LeanRoute:
    limits = predict.codec.file_limits()
    max_files, max_bytes = limits.max_files, limits.max_bytes

    async def serve(request: Request, body: bytes) -> Response:
        return _json(await predict(FileFront(request, store, max_files, max_bytes)))

    annotation: Any = Annotated[
        list[UploadFile],
        File(description=limits.description),
    ]
    param = inspect.Parameter(FIELD, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return LeanRoute(
        path,
        _endpoint(param, predict.service),
        serve=serve,
        service=predict.service,
        streams=True,
        max_body_bytes=max_files * (max_bytes + PART_OVERHEAD),
        methods=["POST"],
        responses=FILE_RESPONSES,
        response_model=None,
        **options,
    )


def _get(predict: Predict, path: str, **options: Any) -> LeanRoute:
    async def serve(request: Request, body: bytes) -> Response:
        return _json(await predict(QueryFront(request)))

    annotation: Any = Annotated[predict.codec.query_type(), Query()]
    param = inspect.Parameter("params", inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    return LeanRoute(
        path,
        _endpoint(param, predict.service),
        serve=serve,
        service=predict.service,
        methods=["GET"],
        responses=QUERY_RESPONSES,
        response_model=None,
        **options,
    )


def _routes(
    router: APIRouter,
    predict: Predict,
    path: str,
    *,
    store: UploadStore,
    summary: str,
    query_summary: str,
    upload_summary: str,
    operation_id: str,
    description: str | None = None,
    **options: Any,
) -> None:
    """The fronts of one model version at ``path``: each form its input kind arrives in."""
    body_doc = None if description is None else description + BATCH_HINT
    router.routes.append(
        _post(
            predict,
            path,
            summary=summary,
            description=body_doc,
            operation_id=operation_id,
            responses=RESPONSES,
            response_model=None,
            **options,
        )
    )
    # The fronts a kind arrives through are the forms its codec declares: a new kind that takes
    # files or a query string gets these routes without an edit here.
    forms = predict.codec.forms
    if FilesForm in forms:
        router.routes.append(
            _files(
                predict,
                store,
                path + "/file",
                summary=upload_summary,
                description=description,
                operation_id=operation_id + "_file",
                **options,
            )
        )
    if QueryForm in forms:
        router.routes.append(
            _get(
                predict,
                path,
                summary=query_summary,
                description=description,
                operation_id=operation_id + "_query",
                **options,
            )
        )


def model_routes(
    served: ServedModels, log: PredictionLog | None, uploads: UploadStore
) -> APIRouter:
    """The fronts of each model's latest version, and of each version pinned."""
    router = APIRouter()
    for name, versions in served.services.items():
        latest = served.get(name)
        tags: list[str | Any] = [f"model: {name}"]
        doc = f"Predict with the latest version of {name} ({latest.manifest.version}). {latest.manifest.description}"
        _routes(
            router,
            Predict(latest, log),
            f"/models/{name}/predict",
            tags=tags,
            store=uploads,
            summary=f"Predict with {name}",
            query_summary=f"Predict one row of {name} from the query string",
            upload_summary=f"Predict with {name} from uploaded files",
            description=doc,
            operation_id=f"predict_{name}",
        )
        for version, service in versions.items():
            _routes(
                router,
                Predict(service, log),
                f"/models/{name}/versions/{version}/predict",
                tags=tags,
                store=uploads,
                summary=f"Predict with {name} version {version}",
                query_summary=f"Predict one row of {name} version {version} from the query string",
                upload_summary=f"Predict with {name} version {version} from uploaded files",
                operation_id=f"predict_{name}_v{version}",
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
    # Reached only for what no route above serves: get() raises a 404 naming what is served;
    # a model that is served has no GET here, since its input (an image) has no query form.
    service = served.get(name, version)
    raise MethodNotAllowed(
        ["POST"], f"{service.manifest.key} takes {service.codec.kind.value} input, not a query"
    )


setattr(_unknown, CATCH_ALL, True)
