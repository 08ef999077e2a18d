"""The seed's model service (``ml_service.py``): pop one job, classify its image, set the result.

Several workers may pop from the same list at once (the seed scales this service with
``docker compose up --scale model=N``); Redis hands each job to one of them.

NOTE: the generous reading. The seed's loop sleeps ``SERVER_SLEEP`` after every job; this one
goes straight back to ``BRPOP``, which already blocks until there is work, so the baseline is
measured without a pause that only adds latency.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import redis
from PIL import Image

from bench.seed004 import jobs, preprocess
from bench.seed004.model import Classifier

log = logging.getLogger("seed004.worker")

BLOCK_S = 0.5
"""How long one ``BRPOP`` waits for a job before the loop looks whether it was asked to stop."""
UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
"""What Pillow raises for a file that is missing, truncated or not an image."""


@dataclass
class WorkerSettings:
    """Where the jobs come from, where the images lie, and which model reads them."""

    redis_url: str
    uploads: Path
    model: Path
    queue: str = jobs.DEFAULT_QUEUE


class Stop:
    """Set by the first SIGTERM or SIGINT; a second one exits at once."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise SystemExit(128 + signum)
        # The job under way is finished and its result set; the loop ends at its next BRPOP.
        self.requested = True


def answer(classifier: Classifier, path: Path) -> jobs.Result:
    """The result for one stored image: its label and score, or why it could not be read."""
    try:
        array = preprocess.read(path, classifier.spec)
    except UNREADABLE as exc:
        # NOTE: the seed's worker died here and its API waited for ever; this one answers
        # (without Pillow's message, which names the server's path).
        log.info("cannot read %s: %s", path.name, exc)
        return {"prediction": None, "score": None, "error": "the file is not an image it can read"}
    label, score = classifier.classify(array)
    return {"prediction": label, "score": score}


def run(settings: WorkerSettings) -> int:
    """Serve jobs until SIGTERM or SIGINT; the number of jobs served."""
    stop = Stop()
    classifier = Classifier.load(settings.model)
    served = 0
    with redis.Redis.from_url(settings.redis_url) as client:
        client.ping()  # an unreachable Redis fails the start, not the first job
        log.info("ready: model %s, queue %s", settings.model, settings.queue)
        while not stop.requested:
            popped = client.brpop([settings.queue], timeout=BLOCK_S)
            if popped is None:
                continue
            job = jobs.decode_job(popped[1])
            result = answer(classifier, settings.uploads / job["image_name"])
            client.set(job["id"], jobs.encode(result), ex=jobs.RESULT_TTL_S)
            served += 1
            log.info("served job %s (%s): %s", job["id"], job["image_name"], result)
    log.info("stopped after %d jobs", served)
    return served
