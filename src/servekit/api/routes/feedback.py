"""Feedback on predictions (seed 004): the right label or a score, and a comment."""

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
from servekit.monitoring import metrics
from servekit.storage.feedback import accuracy, add_feedback, list_feedback
from servekit.storage.tables import Feedback, PredictionRecord

router = APIRouter(tags=["feedback"])


class FeedbackCreate(BaseModel):
    """What a user says about one prediction: a label, a score, or both (one at least)."""

    model_config = ConfigDict(
        extra="forbid",
        # The rule of _something, for the schema's readers and generators.
        json_schema_extra={
            "anyOf": [
                {"required": ["label"], "properties": {"label": {"type": "string"}}},
                {"required": ["score"], "properties": {"score": {"type": "number"}}},
            ]
        },
    )
    prediction_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The correct answer, for classifiers (give a label, a score, or both)",
    )
    score: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="A rating or the true value, for anything (give a label, a score, or both)",
    )
    comment: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.label is None and self.score is None:
            raise ValueError("give a label, a score, or both")
        return self


class FeedbackPublic(BaseModel):
    """Feedback as listed, with what it was about."""

    id: int
    prediction_id: str
    model: str
    version: str
    prediction: object
    label: str | None
    score: float | None
    correct: bool | None
    comment: str
    created_at: datetime


def _public(feedback: Feedback, prediction: PredictionRecord) -> FeedbackPublic:
    fields = ("id", "prediction_id", "label", "score", "correct", "comment", "created_at")
    return FeedbackPublic(
        **{k: getattr(feedback, k) for k in fields},
        model=prediction.model,
        version=prediction.version,
        prediction=prediction.output.get("prediction"),
    )


async def refresh_accuracy(session: AsyncSession) -> None:
    """Set the accuracy gauge of every model version from the feedback in the database."""
    for (model, version), value in (await accuracy(session)).items():
        if math.isfinite(value):
            metrics.FEEDBACK_ACCURACY.labels(model, version).set(value)


@router.post(
    "/feedback",
    status_code=201,
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
async def give_feedback(
    body: FeedbackCreate, user: CurrentUser, session: SessionDep, request: Request
) -> FeedbackPublic:
    """Feedback on a prediction you made (admins: any); a prediction you cannot see is a 404."""
    prediction = await visible_prediction(request, session, user, body.prediction_id)
    feedback = await add_feedback(
        session,
        prediction=prediction,
        user_id=user.id,
        label=body.label,
        score=body.score,
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
