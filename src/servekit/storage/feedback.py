"""Feedback on predictions, and the accuracy it gives each model version."""

from __future__ import annotations

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.storage.tables import Feedback, PredictionRecord


async def add_feedback(
    session: AsyncSession,
    *,
    prediction: PredictionRecord,
    user_id: int,
    label: str | None,
    score: float | None,
    value: float | None = None,
    comment: str,
) -> Feedback:
    """Store the user's feedback on the prediction, in place of any they gave on it before.

    With a label, whether the prediction was right; with a true value, the absolute error (of a
    forecast's first step).
    NOTE: one user's latest word on a prediction is the one that counts: the same feedback sent
    twice is not two votes.
    """
    predicted = prediction.output.get("prediction")
    correct = None if label is None else str(predicted) == label
    if isinstance(predicted, list) and predicted and isinstance(predicted[0], dict):
        predicted = predicted[0].get("forecast")  # a forecast: the true value is its first step's
    abs_error = (
        abs(float(predicted) - value)
        if value is not None and isinstance(predicted, int | float)
        else None
    )
    await session.execute(
        delete(Feedback).where(Feedback.prediction_id == prediction.id, Feedback.user_id == user_id)
    )
    feedback = Feedback(
        prediction_id=prediction.id,
        user_id=user_id,
        label=label,
        score=score,
        correct=correct,
        value=value,
        abs_error=abs_error,
        comment=comment,
    )
    session.add(feedback)
    await session.commit()
    return feedback


async def list_feedback(
    session: AsyncSession, *, user_id: int | None
) -> list[tuple[Feedback, PredictionRecord]]:
    """Feedback with its prediction, newest first: one user's, or everyone's when ``user_id`` is None."""
    query = select(Feedback, PredictionRecord).join(
        PredictionRecord, Feedback.prediction_id == PredictionRecord.id
    )
    if user_id is not None:
        query = query.where(Feedback.user_id == user_id)
    return [(f, p) for f, p in (await session.execute(query.order_by(Feedback.id.desc()))).all()]


async def accuracy(session: AsyncSession) -> dict[tuple[str, str], float]:
    """Share of labelled feedback that agrees with the prediction, per model and version."""
    query = (
        select(
            PredictionRecord.model,
            PredictionRecord.version,
            func.avg(case((Feedback.correct.is_(True), 1.0), else_=0.0)),
        )
        .join(PredictionRecord, Feedback.prediction_id == PredictionRecord.id)
        .where(Feedback.correct.is_not(None))
        .group_by(PredictionRecord.model, PredictionRecord.version)
    )
    return {
        (model, version): float(value)
        for model, version, value in (await session.execute(query)).all()
    }


async def mean_absolute_error(session: AsyncSession) -> dict[tuple[str, str], float]:
    """Mean absolute error of the predictions that feedback gave a true value, per model and version."""
    query = (
        select(PredictionRecord.model, PredictionRecord.version, func.avg(Feedback.abs_error))
        .join(PredictionRecord, Feedback.prediction_id == PredictionRecord.id)
        .where(Feedback.abs_error.is_not(None))
        .group_by(PredictionRecord.model, PredictionRecord.version)
    )
    return {
        (model, version): float(value)
        for model, version, value in (await session.execute(query)).all()
    }
