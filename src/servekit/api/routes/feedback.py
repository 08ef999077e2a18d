"""Feedback on predictions: the right label, the true value or a score, and a comment."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Self

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.api.deps import CurrentUser, SessionDep
from servekit.api.routes.predictions import visible_prediction
from servekit.api.schemas import ErrorPublic
from servekit.exceptions import InputError
from servekit.monitoring import metrics
from servekit.repository.manifest import Task
from servekit.storage.feedback import accuracy, add_feedback, list_feedback, mean_absolute_error
from servekit.storage.tables import Feedback, PredictionRecord

router = APIRouter(tags=["feedback"])


class FeedbackCreate(BaseModel):
    """What a user says about one prediction: a label (classifiers), the true value
    (regressions; a forecast's first step) or a score, one at least. A user's latest feedback on a prediction replaces
    their earlier one."""

    model_config = ConfigDict(
        extra="forbid",
        # The rule of _something, for the schema's readers and generators.
        json_schema_extra={
            "anyOf": [
                {"required": ["label"], "properties": {"label": {"type": "string"}}},
                {"required": ["score"], "properties": {"score": {"type": "number"}}},
                {"required": ["value"], "properties": {"value": {"type": "number"}}},
            ]
        },
    )
    prediction_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The correct answer, for classifiers: one of the model's labels",
    )
    value: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The true value, for regressions (for forecasters: of the first step "
        "forecast): feeds the model's mean absolute error",
    )
    score: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="A rating, for anything",
    )
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.label is None and self.score is None and self.value is None:
            raise ValueError("give a label, a true value or a score")
        return self


class FeedbackPublic(BaseModel):
    """Feedback as listed, with what it was about."""

    id: int
    prediction_id: str
    model: str
    version: str
    prediction: object
    label: str | None
    value: float | None
    score: float | None
    correct: bool | None
    comment: str
    created_at: datetime


def _public(feedback: Feedback, prediction: PredictionRecord) -> FeedbackPublic:
    fields = ("id", "prediction_id", "label", "value", "score", "correct", "comment", "created_at")
    return FeedbackPublic(
        **{k: getattr(feedback, k) for k in fields},
        model=prediction.model,
        version=prediction.version,
        prediction=prediction.output.get("prediction"),
    )


async def refresh_accuracy(session: AsyncSession) -> None:
    """Set the accuracy and mean-absolute-error gauges of every model version from the feedback."""
    for (model, version), value in (await accuracy(session)).items():
        if math.isfinite(value):
            metrics.FEEDBACK_ACCURACY.labels(model, version).set(value)
    for (model, version), value in (await mean_absolute_error(session)).items():
        if math.isfinite(value):
            metrics.FEEDBACK_MAE.labels(model, version).set(value)


def _check_against_model(body: FeedbackCreate, request: Request, model: str, version: str) -> None:
    """A label the model does not have, or feedback of the wrong kind for its task, is a 422."""
    service = request.app.state.served.services.get(model, {}).get(version)
    if service is None:
        return  # no longer served: what it could answer is not known here
    manifest = service.manifest
    regression = manifest.task in (Task.regression, Task.forecasting)
    problem = None
    if body.label is not None and regression:
        problem = (
            "label",
            f"{manifest.key} is a {manifest.task.value} model: send the true value in `value`"
            + (" (of the first step forecast)" if manifest.task is Task.forecasting else ""),
        )
    elif (
        body.label is not None
        and manifest.outputs.labels
        and body.label not in manifest.outputs.labels
    ):
        labels = ", ".join(manifest.outputs.labels)
        problem = ("label", f"{body.label!r} is not a label of {manifest.key}: {labels}")
    elif body.value is not None and not regression:
        problem = ("value", f"{manifest.key} is not a regression: send the right answer in `label`")
    if problem is not None:
        field, message = problem
        raise InputError(
            message, [{"loc": ["body", field], "msg": message, "type": f"invalid_{field}"}]
        )


@router.post(
    "/feedback",
    status_code=201,
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
async def give_feedback(
    body: FeedbackCreate, user: CurrentUser, session: SessionDep, request: Request
) -> FeedbackPublic:
    """Feedback on a prediction you made (admins: any); a prediction you cannot see is a 404.

    A label must be one of the model's; a regression takes the true value instead. Your latest
    feedback on a prediction replaces your earlier one.
    """
    prediction = await visible_prediction(request, session, user, body.prediction_id)
    _check_against_model(body, request, prediction.model, prediction.version)
    feedback = await add_feedback(
        session,
        prediction=prediction,
        user_id=user.id,
        label=body.label,
        score=body.score,
        value=body.value,
        comment=body.comment,
    )
    outcome = {True: "correct", False: "wrong", None: "unlabelled"}[feedback.correct]
    metrics.FEEDBACK.labels(prediction.model, prediction.version, outcome).inc()
    await refresh_accuracy(session)
    return _public(feedback, prediction)


@router.get("/feedback", responses={401: {"model": ErrorPublic}})
async def read_feedback(user: CurrentUser, session: SessionDep) -> list[FeedbackPublic]:
    """Your feedback, newest first (admins: everyone's)."""
    rows = await list_feedback(session, user_id=None if user.role == "admin" else user.id)
    return [_public(f, p) for f, p in rows]
