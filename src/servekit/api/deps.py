"""Named dependencies for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servekit.serving.registry import ServedModels
from servekit.storage.db import Database


def get_served(request: Request) -> ServedModels:
    """The app's served models."""
    served: ServedModels = request.app.state.served
    return served


ServedDep = Annotated[ServedModels, Depends(get_served)]


def get_database(request: Request) -> Database:
    """The app's database."""
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]
