"""The one column type of every time servekit stores: UTC in, aware UTC out, on every database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always reads back an aware UTC datetime.

    NOTE: SQLite has no time zones: SQLAlchemy writes an aware time's wall clock without its
    offset and reads back a naive datetime. So times are written in UTC (a naive one is taken as
    UTC, as the prediction log's bulk writer stamps them) and read back with UTC attached, so that
    every reader (the API's answers above all) gets the same aware time from SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """A time to store, in UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """A stored time, aware and in UTC."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
