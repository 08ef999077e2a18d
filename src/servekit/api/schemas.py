"""Response models shared by every model (request models are generated per model)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
from pydantic_core import PydanticCustomError

from servekit.auth.names import NAME_PATTERN, name_problem, normalize_email
from servekit.auth.passwords import MIN_LENGTH


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
    anonymous_predictions: bool
    """Whether predictions are answered without a token or an API key."""
    models: list[ModelSummary]


def _plain_name(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise PydanticCustomError("invalid_name", problem)
    return name


def _normal_email(email: object) -> object:
    return normalize_email(email) if isinstance(email, str) else email


PASSWORD_RULES = (
    f"At least {MIN_LENGTH} characters, of which at least 4 different ones; not a common "
    "password; and not containing your name or the part of your email before the @ (when that "
    "is 4 characters or more). A password that breaks a rule is refused with a 422 saying which."
)


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# NOTE: email-validator refuses these domains (RFC 6761's special-use names), which "format:
# email" allows: said with the pattern they must not match (JSON Schema's has no flags).
SPECIAL_USE = "|".join(_any_case(name) for name in SPECIAL_USE_DOMAIN_NAMES)
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Shown to admins; no control or invisible characters.",
        # Documented only: the validator below checks it (Rust's regex refuses surrogates).
        json_schema_extra={"pattern": NAME_PATTERN},
    ),
    AfterValidator(_plain_name),
]
Email = Annotated[
    EmailStr,
    BeforeValidator(_normal_email),
    Field(
        description="Used to log in; compared and stored in one form (NFKC, without case). "
        "Special-use domains "
        f"({', '.join('.' + name for name in SPECIAL_USE_DOMAIN_NAMES)}) are refused.",
        json_schema_extra={"not": {"pattern": rf"[@.]({SPECIAL_USE})\.?$"}},
    ),
]
Password = Annotated[str, Field(min_length=MIN_LENGTH, max_length=1000, description=PASSWORD_RULES)]


class UserCreate(BaseModel):
    """What registering takes."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    password: Password


class PasswordChange(BaseModel):
    """A new password, with the current one; every token issued before it ends."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1000)
    new_password: Password


class RoleChange(BaseModel):
    """A user's new role; their tokens end, and their next login carries it."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "admin"]


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
