"""Response models shared by every model (request models are generated per model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class WarningPublic(BaseModel):
    """How a row differs from the training data."""

    feature: str
    kind: str
    value: Any
    expected: str
    message: str


class PredictionPublic(BaseModel):
    """One row's answer."""

    id: str
    prediction: Any
    probabilities: dict[str, float] | None = None
    warnings: list[WarningPublic]


class PredictResponse(BaseModel):
    """The answer to a prediction request: one entry per row, in request order."""

    model: str
    version: str
    predictions: list[PredictionPublic]


class ErrorPublic(BaseModel):
    """Every error body."""

    error: str
    message: str
    detail: list[dict[str, Any]] | None = None


class ModelSummary(BaseModel):
    """One served model in the list."""

    name: str
    latest: str
    versions: list[str]
    task: str
    runtime: str
    description: str


class Status(BaseModel):
    """What ``GET /`` tells."""

    service: str
    version: str
    uptime_seconds: float
    ready: bool
    models: list[ModelSummary]


class UserCreate(BaseModel):
    """What registering takes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(max_length=1000)


class UserPublic(BaseModel):
    """A user as the API shows one: never the password or its hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    created_at: datetime


class Token(BaseModel):
    """An access token, as OAuth2's password flow returns it."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
