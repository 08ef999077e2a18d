"""``POST /entities``: a text's named entities and its redacted form, by the NER model of a size
and language (the call of the classic spaCy tutorial), through the one prediction use-case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import to_json

from servekit.api.fronts import HttpFront
from servekit.api.media import require_json
from servekit.api.routes.predict import RESPONSES
from servekit.exceptions import ModelNotFound
from servekit.inputs.base import Form, FormValidationError, JsonForm
from servekit.inputs.text import NOT_BLANK
from servekit.repository.manifest import InputKind, Task
from servekit.repository.text import pipeline_meta, size_of
from servekit.serving.prediction import Predict
from servekit.serving.registry import ServedModels
from servekit.serving.service import ModelService
from servekit.storage.predictions import PredictionLog

PATH = "/entities"


class EntitiesRequest(BaseModel):
    """A text, and which served NER model reads it: by its pipeline's size and language."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())

    # NOTE: blank or over-long texts are the model's codec's to refuse (its own limit and
    # message); the schema says so, for clients and fuzzers, without checking it twice.
    text: str = Field(
        description="The text: not blank, at most the model's text.max_chars characters",
        json_schema_extra={"minLength": 1, "pattern": NOT_BLANK},
    )
    model_size: str = Field(description="The pipeline's size: sm, md, lg or trf", min_length=1)
    model_language: str = Field(description="The pipeline's language (ISO 639-1: en)", min_length=1)


BODY: TypeAdapter[EntitiesRequest] = TypeAdapter(EntitiesRequest)


def identity(service: ModelService) -> tuple[str, str] | None:
    """A served NER model's (size, language): from its manifest, else its pipeline's meta."""
    m = service.manifest
    if m.task is not Task.ner or m.input_kind is not InputKind.text or m.text is None:
        return None
    size, language = m.text.size, m.text.language
    if size is None or language is None:
        meta = pipeline_meta(service.model.path, m.options, m.artifact)
        size = size or size_of(str(meta.get("name", "")))
        language = language or meta.get("lang")
    return (size or "?").lower(), (language or "?").lower()


class EntitiesFront(HttpFront):
    """The text of ``POST /entities``, its caller known before its body was read."""

    __slots__ = ("body", "user_id")

    def __init__(self, request: Request, user_id: int | None, text: str) -> None:
        super().__init__(request)
        self.user_id = user_id
        self.body = to_json({"text": text})

    async def authenticate(self) -> int | None:
        """The caller, found by the route before it read the body (it needs the body's model)."""
        return self.user_id

    async def form(self) -> Form:
        """The text as the model's JSON form: checked by its codec like any prediction's."""
        return JsonForm(self.body)


def entities_router(served: ServedModels, log: PredictionLog | None) -> APIRouter:
    """The route, over the latest version of each served NER model."""
    models: dict[tuple[str, str], list[Predict]] = {}
    for name in served.services:
        service = served.get(name)
        key = identity(service)
        if key is not None:
            models.setdefault(key, []).append(Predict(service, log))
    served_said = (
        "; ".join(
            f"{p.service.manifest.name} (size {s}, language {lang})"
            for (s, lang), predicts in models.items()
            for p in predicts
        )
        or "none"
    )

    def choose(size: str, language: str) -> Predict:
        found = models.get((size.lower(), language.lower()))
        if not found:
            raise ModelNotFound(
                f"no NER model of size {size!r} and language {language!r} is served; "
                f"NER models served: {served_said}"
            )
        return found[0]  # several alike: the first by name

    async def entities(request: Request) -> Response:
        # NOTE: the caller first, then the body: which model answers is in the body, so this
        # route authenticates before Predict does (its front then hands the caller on).
        user_id = await request.app.state.credentials.user_id(request)
        require_json(request.headers.get("content-type"))
        try:
            asked = BODY.validate_json(await request.body())
        except ValidationError as exc:
            raise FormValidationError(exc, "body") from None
        predict = choose(asked.model_size, asked.model_language)
        answer = await predict(EntitiesFront(request, user_id, asked.text))
        return Response(answer, media_type="application/json")

    first = next((p for predicts in models.values() for p in predicts), None)
    example: dict[str, Any] = {
        "text": "Apple is looking at buying U.K. startup.",
        "model_size": "sm",
        "model_language": "en",
    }
    if first is not None:
        size, language = next(iter(models))
        example = {**first.codec.example(), "model_size": size, "model_language": language}
    router = APIRouter(tags=["entities"])
    router.add_api_route(
        PATH,
        entities,
        methods=["POST"],
        summary="Named entities in a text, and the text with them redacted",
        description="Answered by the served NER model of this size and language, as "
        f"`/models/{{name}}/predict` answers. Served: {served_said}.",
        response_model=None,
        responses={
            **RESPONSES,
            404: {
                "model": RESPONSES[404]["model"],
                "description": "No served NER model of this size and language",
            },
            415: {"model": RESPONSES[404]["model"], "description": "The body is not JSON"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": EntitiesRequest.model_json_schema(),
                        "example": example,
                    }
                },
            }
        },
    )
    return router
