"""Locust users for a servekit server: the index, predictions, uploads, texts and forecasts.

Run it as Locust users expect (``loadtest/locustfile.py`` in the repository imports these)::

    locust -f loadtest/locustfile.py --headless -u 10 -r 5 -t 20s --host http://127.0.0.1:8000

or pick classes by name (``... IrisPredict DigitsUpload``). Bodies are drawn from the data the
examples were trained on (scikit-learn's bundled iris and digits, sentences like the ner
example's), with a share of rows unlike the training data, which get warnings, not errors.

Credentials, read from the environment: ``SERVEKIT_API_KEY`` (sent as ``X-API-Key``), or
``SERVEKIT_EMAIL`` and ``SERVEKIT_PASSWORD`` (one sign-in per Locust process, on the first
user's start, shared by every user: a thousand users logging in at once would be a login storm,
which servekit refuses with 503). With neither, requests go without credentials, which the
server accepts only when started with ``--allow-anonymous`` (as ``./scripts/serve`` does).

A model the server does not serve stops its users at start, with one line saying so.
"""

from __future__ import annotations

import io
import logging
import os
import random
from typing import Any, ClassVar

import numpy as np
from gevent.lock import Semaphore
from locust import between, constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser
from PIL import Image
from sklearn.datasets import load_digits, load_iris

log = logging.getLogger("servekit.loadtest")

OUT_OF_DISTRIBUTION_SHARE = 0.05
"""Rows unlike the training data, in every model's traffic: warnings must not cost failures."""

BATCH_ROWS = 16
"""Rows in one batch request."""

THINK_S = float(os.environ.get("SERVEKIT_LOADTEST_THINK_S", "0"))
"""A user's pause between requests; 0 (the default) makes each user a closed loop at full speed."""

_IRIS = load_iris()
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_row(rng: random.Random) -> dict[str, float]:
    """A training row with a little noise, or now and then one far outside the training ranges."""
    values = _IRIS.data[rng.randrange(len(_IRIS.data))]
    row = {
        n: round(float(v) + rng.gauss(0, 0.05), 3)
        for n, v in zip(IRIS_FEATURES, values, strict=True)
    }
    row = {n: max(v, 0.0) for n, v in row.items()}
    if rng.random() < OUT_OF_DISTRIBUTION_SHARE:
        row[rng.choice(IRIS_FEATURES)] *= 10
    return row


def digit_pngs(count: int = 32, factor: int = 4) -> list[bytes]:
    """PNGs of scikit-learn's digits as the example's samples are made (0-255, upscaled)."""
    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    pngs = []
    for image in images[:count]:
        picture = image.repeat(factor, axis=0).repeat(factor, axis=1)
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


def multipart(name: str, content: bytes, *, field: str = "file") -> tuple[bytes, str]:
    """A multipart/form-data body holding one PNG file, and its content type.

    NOTE: built here because Locust's fast client sends bytes but has no ``files=``.
    """
    boundary = f"servekit-loadtest-{random.getrandbits(64):016x}"
    head = (
        f'--{boundary}\r\ncontent-disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "content-type: image/png\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def noise_png(rng: random.Random, size: int = 32) -> bytes:
    """A grey picture of random noise: served, with warnings that say it is unlike a digit."""
    pixels = np.frombuffer(rng.randbytes(size * size), dtype=np.uint8).reshape(size, size)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


SENTENCES = [
    "Apple is looking at buying U.K. startup for $1 billion, said Tim Cook in London.",
    "Angela Merkel met Emmanuel Macron in Paris on Tuesday to talk about the euro.",
    "Amazon opened a new office in Seattle and hired 2,000 engineers last year.",
    "Serena Williams won the match at Wimbledon in front of 15,000 fans.",
    "The United Nations said on Friday that aid had reached Kabul by road.",
    "Google and Microsoft each paid about $500 million for cloud start-ups in 2021.",
    "Barack Obama spoke at Harvard University in Cambridge, Massachusetts.",
    "Toyota will build a $2 billion plant in North Carolina, the governor said.",
]


class ServekitUser(FastHttpUser):
    """A client of one model: credentials from the environment, the model checked at start."""

    abstract = True
    wait_time = constant(THINK_S) if THINK_S == 0 else between(THINK_S / 2, THINK_S * 1.5)
    model: ClassVar[str | None] = None
    """The model this user calls; its users stop at start when the server does not serve it."""

    _tokens: ClassVar[dict[str, str]] = {}
    _signing_in = Semaphore()

    def on_start(self) -> None:
        self.rng = random.Random()
        self.headers = self._credentials()
        if self.model is not None:
            with self.client.get(
                f"/models/{self.model}", name="/models/[name]", catch_response=True
            ) as answer:
                if answer.status_code == 404:
                    answer.success()  # not a failure of the server: this user has nothing to do
                    log.warning(
                        "%s: the server does not serve %r, stopping",
                        type(self).__name__,
                        self.model,
                    )
                    raise StopUser()

    def _credentials(self) -> dict[str, str]:
        key = os.environ.get("SERVEKIT_API_KEY")
        if key:
            return {"X-API-Key": key}
        email, password = os.environ.get("SERVEKIT_EMAIL"), os.environ.get("SERVEKIT_PASSWORD")
        if not (email and password):
            return {}
        with self._signing_in:
            token = self._tokens.get(self.host or "")
            if token is None:
                answer = self.client.post(
                    "/auth/token",
                    data=f"username={email}&password={password}",
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                if answer.status_code != 200:
                    raise RuntimeError(
                        f"sign-in as {email} failed with {answer.status_code}: {answer.text}"
                    )
                token = self._tokens[self.host or ""] = answer.json()["access_token"]
        return {"Authorization": f"Bearer {token}"}

    def predict(self, body: dict[str, Any], *, rows: int, name: str) -> None:
        """POST a JSON body; a failure unless it is a 200 with one prediction per row."""
        self.answered(
            self.client.post(
                f"/models/{self.model}/predict",
                json=body,
                headers=self.headers,
                name=name,
                catch_response=True,
            ),
            rows,
        )

    def answered(self, response: Any, rows: int) -> None:
        """Check an answer: a 200 holding ``rows`` predictions, each with an id."""
        with response as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            predictions = answer.json().get("predictions", [])
            if len(predictions) != rows or not all("id" in p for p in predictions):
                answer.failure(f"expected {rows} predictions, got: {answer.text[:200]}")


class Index(ServekitUser):
    """``GET /``: the service, its version and models (seed 004's index test)."""

    weight = 1

    @task
    def index(self) -> None:
        with self.client.get("/", headers=self.headers, catch_response=True) as answer:
            if answer.status_code != 200 or "models" not in answer.json():
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")


class IrisPredict(ServekitUser):
    """One iris row a request (seed 004's predict test, on a tabular model)."""

    model = "iris"
    weight = 4

    @task
    def predict_one(self) -> None:
        self.predict(iris_row(self.rng), rows=1, name="iris: one row")


class IrisBatch(ServekitUser):
    """Sixteen iris rows a request, as ``instances``."""

    model = "iris"
    weight = 1

    @task
    def predict_batch(self) -> None:
        rows = [iris_row(self.rng) for _ in range(BATCH_ROWS)]
        self.predict({"instances": rows}, rows=BATCH_ROWS, name=f"iris: {BATCH_ROWS} rows")


class DigitsUpload(ServekitUser):
    """One image a request, uploaded as a file (seed 004's own traffic)."""

    model: ClassVar[str | None] = "digits"
    weight = 2
    path: ClassVar[str] = "/models/digits/predict/file"
    bodies: ClassVar[list[tuple[bytes, str]]] = [
        multipart("digit.png", png) for png in digit_pngs()
    ]

    @task
    def upload(self) -> None:
        if self.rng.random() < OUT_OF_DISTRIBUTION_SHARE:
            body, kind = multipart("noise.png", noise_png(self.rng))
        else:
            body, kind = self.rng.choice(self.bodies)
        self.check(
            self.client.post(
                self.path,
                data=body,  # type: ignore[arg-type]  # bytes are sent as they are
                headers={**self.headers, "content-type": kind},
                name="digits: upload",
                catch_response=True,
            )
        )

    def check(self, response: Any) -> None:
        """servekit's answer: one prediction. (Another server's user overrides this.)"""
        self.answered(response, 1)


class NerText(ServekitUser):
    """One sentence a request to the named-entity model."""

    model = "ner"
    weight = 1

    @task
    def entities(self) -> None:
        self.predict({"text": self.rng.choice(SENTENCES)}, rows=1, name="ner: text")


class Forecast(ServekitUser):
    """A forecast of the next 1-14 days after the training series."""

    model = "forecast"
    weight = 1

    @task
    def forecast(self) -> None:
        self.predict({"horizon": self.rng.randint(1, 14)}, rows=1, name="forecast: horizon")
