"""The bank app, instrumented by servekit: ``uvicorn bank.app:app --app-dir examples/bank``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bank.db import database_url, migrate
from bank.errors import add_handlers
from bank.routes import router
from servekit.monitoring import instrument


def create_app(url: str | None = None) -> FastAPI:
    """The app over the database at ``url`` (default: DATABASE_URL, else ./bank.db)."""
    url = url or database_url()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Alembic runs its own event loop: in a thread, not on this one.
        await asyncio.to_thread(migrate, url)
        engine = create_async_engine(url)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="bank", lifespan=lifespan)
    app.include_router(router)
    add_handlers(app)
    return instrument(app)


app = create_app()
