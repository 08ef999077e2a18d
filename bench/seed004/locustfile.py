"""Locust users of the seed 004 baseline: upload a digit to ``/model/predict``, or ask for ``/``.

``locust -f bench/seed004/locustfile.py --host http://127.0.0.1:PORT Seed004Upload``

The uploads are scikit-learn's bundled digits, one of each digit, as servekit's digits example
makes its pictures: 0-16 scaled to 0-255, each pixel repeated 8 times across and down (64x64,
the size of ``examples/digits/*.png``), grey PNG. They are built once, at import.

NOTE: the seed stores uploads by hash, so after the first ten requests every upload is a file
it has already (no write). A sweep that wants every upload to be a new file must vary the bytes.
"""

from __future__ import annotations

import io
import random

import numpy as np
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from PIL import Image
from sklearn.datasets import load_digits

UPSCALE = 8
PREDICT = "/model/predict"


def digit_pngs() -> list[bytes]:
    """The first image of each digit 0-9, as 64x64 grey PNG files."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    pngs = []
    for digit in range(10):
        first = images[int(np.flatnonzero(digits.target == digit)[0])]
        picture = np.repeat(np.repeat(first, UPSCALE, axis=0), UPSCALE, axis=1)
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


PNGS = digit_pngs()


class Seed004Upload(FastHttpUser):
    """One digit PNG after another as the multipart field ``file``, each answer checked."""

    wait_time = constant(0)

    @task
    def predict(self) -> None:
        """Upload a digit; a failure unless the answer is a 200 with ``success`` and a label."""
        png = random.choice(PNGS)
        with self.client.post(
            PREDICT, files={"file": ("digit.png", png, "image/png")}, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")
                return
            try:
                body = response.json()
            except ValueError:
                response.failure("the answer is not JSON")
                return
            if body.get("success") is not True or "prediction" not in body:
                response.failure(f"not a prediction: {body}")


class Seed004Index(FastHttpUser):
    """``GET /`` as fast as it answers: the cost of the API without the queue."""

    wait_time = constant(0)

    @task
    def index(self) -> None:
        """The index page."""
        self.client.get("/")
