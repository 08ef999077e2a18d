"""The tables: users, their API keys, the prediction log and feedback on predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servekit.storage.timestamps import UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Every servekit table."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime(),  # aware UTC on SQLite too (see timestamps.py)
    }


class User(Base):
    """A person or service that logs in; only the argon2 hash of the password is kept.

    NOTE: a deleted user's row stays as a tombstone (``deleted_at`` set, email, name and hash
    scrubbed), so that no id is ever given again: a token or log row naming an id always means
    the account it was made for.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="user")
    created_at: Mapped[datetime] = mapped_column(default=_now)
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Carried by every token; raised when the user is deleted, changes role or password, which
    ends every token issued before."""
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """A key a user made for a service client; only its hash is kept, the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PredictionRecord(Base):
    """One predicted row: what was asked, what was answered, how long it took, and for whom."""

    __tablename__ = "predictions"
    # NOTE: no index beyond the key and the user: each is one more B-tree every logged row is
    # written into (migration 0003 dropped the unused one on model and time).

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[dict[str, Any]]
    output: Mapped[dict[str, Any]]
    warnings: Mapped[list[Any]]
    latency_ms: Mapped[float] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=_now)


class Feedback(Base):
    """What a user says about a prediction: the correct label or a score, and a comment."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[str] = mapped_column(
        ForeignKey("predictions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(200), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    correct: Mapped[bool | None] = mapped_column(default=None)
    """Whether ``label`` equals the prediction (None without a label)."""
    value: Mapped[float | None] = mapped_column(Float, default=None)
    """The true value, for a regression."""
    abs_error: Mapped[float | None] = mapped_column(Float, default=None)
    """``|prediction - value|``, kept so that the mean absolute error is one SQL average."""
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=_now)


class LoginAttempt(Base):
    """A login attempt counted against a limit: one row per limit it counts for (a hashed key)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    """SHA-256 of what is limited (an account, an address, a device), never the email itself."""
    at: Mapped[float] = mapped_column(Float, index=True)
    """Seconds since the epoch: the processes sharing the database share this clock."""
