"""Seed 003's online café: items with GET, POST, PUT and DELETE on SQLite through SQLAlchemy.

Not servekit: a plain FastAPI app, given servekit's monitoring with one call. Run it with
``uvicorn cafe:app --app-dir examples/cafe``; ``CAFE_DATABASE_URL`` (default ``sqlite:///cafe.db``,
or ``postgresql://...``) chooses the database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.exceptions import HTTPException as StarletteHTTPException

from servekit.monitoring import instrument

DEFAULT_URL = "sqlite:///cafe.db"


class Base(DeclarativeBase):
    pass


class Item(Base):
    """One thing the café sells."""

    __tablename__ = "cafe_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    price_cents: Mapped[int]
    available: Mapped[bool] = mapped_column(default=True)


Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"\S")]


class ItemIn(BaseModel):
    """What a client sends to create or replace an item."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name
    description: str = Field(default="", max_length=500)
    price_cents: int = Field(gt=0, le=1_000_000, description="The price in cents, above 0.")
    available: bool = True


class ItemOut(ItemIn):
    """An item as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int


def async_url(url: str) -> str:
    """SQLAlchemy's URL with the asyncio driver: ``sqlite:///x.db`` or ``postgresql://...`` as given."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+asyncpg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    """A database session for one request."""
    async with AsyncSession(request.app.state.engine, expire_on_commit=False) as db:
        yield db


Db = Annotated[AsyncSession, Depends(session)]
router = APIRouter()


async def found(db: AsyncSession, item_id: int) -> Item:
    """The item, or a 404 that names it."""
    item = await db.get(Item, item_id)
    if item is None:
        raise HTTPException(404, f"there is no item {item_id}")
    return item


async def saved(db: AsyncSession, item: Item) -> ItemOut:
    """Commit; a second item of the same name is a 409."""
    name = item.name
    try:
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise HTTPException(409, f"an item named {name!r} exists already") from None
    await db.refresh(item)
    return ItemOut.model_validate(item)


@router.get("/items")
async def list_items(
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ItemOut]:
    rows = await db.scalars(select(Item).order_by(Item.id).limit(limit).offset(offset))
    return [ItemOut.model_validate(row) for row in rows]


@router.get("/items/{item_id}")
async def read_item(item_id: int, db: Db) -> ItemOut:
    return ItemOut.model_validate(await found(db, item_id))


@router.post("/items", status_code=201)
async def create_item(body: ItemIn, db: Db) -> ItemOut:
    item = Item(**body.model_dump())
    db.add(item)
    return await saved(db, item)


@router.put("/items/{item_id}")
async def replace_item(item_id: int, body: ItemIn, db: Db) -> ItemOut:
    item = await found(db, item_id)
    for field, value in body.model_dump().items():
        setattr(item, field, value)
    return await saved(db, item)


@router.delete("/items/{item_id}", status_code=204)
async def delete_item(item_id: int, db: Db) -> Response:
    await db.delete(await found(db, item_id))
    await db.commit()
    return Response(status_code=204)


def create_app(url: str | None = None) -> FastAPI:
    """The café on the database at ``url`` (else ``CAFE_DATABASE_URL``, else ``cafe.db`` here)."""
    engine = create_async_engine(async_url(url or os.environ.get("CAFE_DATABASE_URL", DEFAULT_URL)))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield
        await engine.dispose()

    app = instrument(FastAPI(title="cafe", lifespan=lifespan))
    app.state.engine = engine
    _errors(app)
    app.include_router(router)
    return app


def _errors(app: FastAPI) -> None:
    """Every error as ``{"error", "message"}``, as servekit answers."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "not_found", 405: "method_not_allowed", 409: "conflict"}
        return JSONResponse(
            {"error": names.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(
            {"error": "invalid_request", "message": "; ".join(problems)}, status_code=422
        )


app = create_app()
