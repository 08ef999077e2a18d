"""The prediction log, read back: a user sees their own predictions, an admin any."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from servekit.api.deps import CurrentUser, SessionDep
from servekit.api.schemas import ErrorPublic
from servekit.exceptions import NotFound
from servekit.storage.predictions import get_prediction, recent_predictions
from servekit.storage.tables import PredictionRecord, User

router = APIRouter(tags=["predictions"])


class LoggedPrediction(BaseModel):
    """One logged row: what was asked and answered, and how long it took."""

    model_config = ConfigDict(from_attributes=True)
    id: str
    model: str
    version: str
    inputs: dict[str, Any]
    output: dict[str, Any]
    warnings: list[Any]
    latency_ms: float
    created_at: datetime


async def visible_prediction(
    request: Request, session: AsyncSession, user: User, prediction_id: str
) -> PredictionRecord:
    """A logged prediction the user may see (their own; an admin any); NotFound otherwise."""
    prediction = await get_prediction(session, prediction_id=prediction_id)
    log = request.app.state.prediction_log
    if prediction is None and log is not None:
        await log.flush()  # it may still wait in memory: written once a second or per batch
        prediction = await get_prediction(session, prediction_id=prediction_id)
    if prediction is None or (prediction.user_id != user.id and user.role != "admin"):
        raise NotFound(f"no prediction {prediction_id} of yours")
    return prediction


@router.get(
    "/predictions/{prediction_id}",
    responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}},
)
async def read_prediction(
    prediction_id: str, user: CurrentUser, session: SessionDep, request: Request
) -> LoggedPrediction:
    """One of your predictions (admins: any); another user's is a 404."""
    prediction = await visible_prediction(request, session, user, prediction_id)
    return LoggedPrediction.model_validate(prediction)


@router.get("/predictions", responses={401: {"model": ErrorPublic}})
async def list_predictions(
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100, description="How many, newest first")] = 20,
) -> list[LoggedPrediction]:
    """Your newest predictions (admins: everyone's), as the prediction log holds them."""
    log = request.app.state.prediction_log
    if log is not None:
        await log.flush()  # the newest may still wait in memory
    rows = await recent_predictions(
        session, user_id=None if user.role == "admin" else user.id, limit=limit
    )
    return [LoggedPrediction.model_validate(r) for r in rows]
