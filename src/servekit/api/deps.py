"""Named dependencies for routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servekit.serving.registry import ServedModels


def get_served(request: Request) -> ServedModels:
    """The app's served models."""
    served: ServedModels = request.app.state.served
    return served


ServedDep = Annotated[ServedModels, Depends(get_served)]
