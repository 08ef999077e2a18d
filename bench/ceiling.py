"""The ceiling: a bare Starlette endpoint that parses the JSON body and returns a constant."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def predict(request: Request) -> JSONResponse:
    """Parse the body, answer a constant."""
    await request.json()
    return JSONResponse({"prediction": "constant"})


app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
