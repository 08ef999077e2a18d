"""The seed's API: store an upload by hash, queue a job in Redis, poll for its result.

NOTE: no authentication. The seed's ``/model/predict`` needs a JWT of a logged-in user; this one
takes anonymous uploads, which makes the baseline cheaper per request than servekit, which
authenticates every prediction (a key or a token). The comparison flatters the baseline.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from fastapi import FastAPI, HTTPException, Request, UploadFile
from pydantic import BaseModel

from bench.seed004 import jobs

ALLOWED_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif"})
"""The seed's ``allowed_file``: judged by the name's extension, not the content."""
API_SLEEP_S = 0.05
"""The seed's ``API_SLEEP``: seconds between two looks for a job's result."""
DEADLINE_S = 30.0
"""Seconds a request waits for its result before a 504 (the seed waited for ever)."""


@dataclass
class ApiSettings:
    """Where the jobs go, where uploads are kept, and how the API waits for a result."""

    redis_url: str
    uploads: Path
    queue: str = jobs.DEFAULT_QUEUE
    poll_s: float = API_SLEEP_S
    deadline_s: float = DEADLINE_S
    blocking: bool = False
    """As the seed's template is written: a synchronous Redis client and ``time.sleep`` inside
    the ``async`` route, so that each Redis call and each pause holds the event loop (and every
    other request) still. False: the generous reading, which awaits both."""


class PredictResponse(BaseModel):
    """The seed's answer to a prediction."""

    success: bool
    prediction: str
    score: float
    image_file_name: str


def allowed_file(filename: str) -> bool:
    """Whether the name ends in an image extension the seed accepts (any case)."""
    return Path(filename).suffix.lower() in ALLOWED_EXTENSIONS


def stored_name(content: bytes, filename: str) -> str:
    """The name an upload is kept under: the SHA-256 of its bytes and its extension."""
    return hashlib.sha256(content).hexdigest() + Path(filename).suffix.lower()


class Queue:
    """The API's side of the Redis list: push a job, wait for its result."""

    def __init__(self, client: redis.asyncio.Redis, settings: ApiSettings) -> None:
        self.client = client
        self.settings = settings
        self.sync = redis.Redis.from_url(settings.redis_url) if settings.blocking else None

    async def _redis(self, command: str, *args: Any) -> Any:
        if self.sync is not None:
            # NOTE: as the template: a blocking call inside an async function stops the loop.
            return getattr(self.sync, command)(*args)
        return await getattr(self.client, command)(*args)

    async def _pause(self) -> None:
        if self.sync is not None:
            time.sleep(self.settings.poll_s)  # noqa: ASYNC251  (the seed's template, on purpose)
        else:
            # NOTE: the generous reading. The seed's template waits with time.sleep(API_SLEEP),
            # which blocks the event loop, so one waiting request stops all others; this one
            # awaits, and the loop serves other requests in the meantime.
            await asyncio.sleep(self.settings.poll_s)

    async def predict(self, image_name: str) -> jobs.Result:
        """The seed's ``model_predict``: LPUSH a job, then GET its id until the result is set."""
        job: jobs.Job = {"id": str(uuid.uuid4()), "image_name": image_name}
        message = jobs.encode(job)
        await self._redis("lpush", self.settings.queue, message)
        deadline = time.monotonic() + self.settings.deadline_s
        while True:
            found = await self._redis("get", job["id"])
            if found is not None:
                break
            if time.monotonic() >= deadline:
                # A job no worker has taken yet is withdrawn: nobody waits for its answer.
                await self._redis("lrem", self.settings.queue, 1, message)
                raise HTTPException(504, "no model worker answered in time")
            await self._pause()
        await self._redis("delete", job["id"])
        return jobs.decode_result(found)

    def close(self) -> None:
        """Close the synchronous client, if any."""
        if self.sync is not None:
            self.sync.close()


def create_app(settings: ApiSettings) -> FastAPI:
    """The API over one Redis and one uploads folder; the connection opens at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.uploads.mkdir(parents=True, exist_ok=True)
        client = redis.asyncio.Redis.from_url(settings.redis_url)
        await client.ping()  # an unreachable Redis fails the start, not the first upload
        app.state.queue = Queue(client, settings)
        try:
            yield
        finally:
            app.state.queue.close()
            await client.aclose()

    app = FastAPI(title="seed 004 baseline", lifespan=lifespan)

    @app.get("/")
    async def index() -> dict[str, Any]:
        """That the API is up (the seed's index)."""
        return {"status": "ok", "predict": "POST an image as the file field of /model/predict"}

    @app.post("/model/predict", response_model=PredictResponse)
    async def predict(request: Request, file: UploadFile) -> PredictResponse:
        """Store the uploaded image by hash, have a worker classify it, answer its label."""
        if not file.filename or not allowed_file(file.filename):
            raise HTTPException(400, "File type is not supported.")
        content = await file.read()
        name = stored_name(content, file.filename)
        path = settings.uploads / name
        # As the seed: the file is written on the event loop, once per content (a small
        # image costs tens of microseconds). Written aside and renamed, so that a crash never
        # leaves a partial file that later uploads of the same content would find.
        if not path.exists():
            partial = path.with_name(f"{name}.{uuid.uuid4().hex}.part")
            partial.write_bytes(content)
            partial.replace(path)
        queue: Queue = request.app.state.queue
        result = await queue.predict(name)
        if result["prediction"] is None or result["score"] is None:
            raise HTTPException(400, result.get("error", "the image could not be read"))
        return PredictResponse(
            success=True,
            prediction=result["prediction"],
            score=result["score"],
            image_file_name=name,
        )

    return app
