"""Seed 004's design (``bench/seed004``): its API and two workers on the real Redis, as the sweep runs them."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from bench.seed004 import preprocess
from PIL import Image

from servekit.inputs import pixels
from servekit.repository.loader import read_manifest
from tests.bench.deployment import ROOT, Deployment, running

SAMPLES = ROOT / "examples" / "digits"
DIGITS = {"seven": "7", "zero": "0", "three": "3"}
CONCURRENT = 20
LOG_TIMEOUT = 5.0
"""Seconds for a worker's log line to reach its stderr file after its answer was read."""


@pytest.fixture(scope="module")
def deployment(
    digits_dir: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """The API and two workers on a queue of this module's own, shared by its tests."""
    queue = f"seed004-test-{uuid.uuid4().hex[:12]}"
    try:
        with running(
            model=digits_dir / "digits",
            redis_url=redis_url,
            queue=queue,
            workdir=tmp_path_factory.mktemp("seed004"),
            workers=2,
        ) as running_deployment:
            yield running_deployment
    finally:
        with redis.Redis.from_url(redis_url) as client:
            client.delete(queue)


@pytest.fixture(scope="module")
def http(deployment: Deployment) -> Iterator[httpx.Client]:
    """A client of the deployment's API."""
    with httpx.Client(base_url=deployment.url, timeout=30.0) as client:
        yield client


def upload(http: httpx.Client, name: str, content: bytes) -> httpx.Response:
    """POST one file as the multipart field ``file``."""
    return http.post("/model/predict", files={"file": (name, content)})


def test_prepares_images_as_servekit_does(digits_dir: Path) -> None:
    spec = read_manifest(digits_dir / "digits").manifest.image
    assert spec is not None
    for path in sorted(SAMPLES.glob("*.png")):
        ours = preprocess.read(path, spec)
        with path.open("rb") as file:
            theirs = pixels.read(file, spec).array
        assert ours.dtype == theirs.dtype
        assert ours.tobytes() == theirs.tobytes(), path.name


def test_index(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_reads_the_sample_digits(http: httpx.Client, deployment: Deployment) -> None:
    for name, digit in DIGITS.items():
        content = (SAMPLES / f"{name}.png").read_bytes()
        response = upload(http, f"{name}.png", content)
        assert response.status_code == 200, response.text
        body = response.json()
        stored = hashlib.sha256(content).hexdigest() + ".png"
        assert body["success"] is True
        assert body["prediction"] == digit
        assert body["score"] > 0.9
        assert body["image_file_name"] == stored
        assert (deployment.uploads / stored).read_bytes() == content


def test_refuses_files_that_are_not_images(http: httpx.Client) -> None:
    response = upload(http, "notes.txt", b"not an image")
    assert response.status_code == 400
    assert response.json() == {"detail": "File type is not supported."}
    # The name says PNG, the content does not: the worker answers rather than dying.
    response = upload(http, "fake.png", b"not an image either")
    assert response.status_code == 400
    assert "not an image" in response.json()["detail"]


def test_concurrent_uploads_are_shared_by_the_workers(
    http: httpx.Client, deployment: Deployment
) -> None:
    before = [w.served() for w in deployment.workers]
    names = [list(DIGITS)[i % len(DIGITS)] for i in range(CONCURRENT)]
    contents = {name: (SAMPLES / f"{name}.png").read_bytes() for name in DIGITS}
    with ThreadPoolExecutor(CONCURRENT) as pool:
        responses = list(pool.map(lambda name: upload(http, f"{name}.png", contents[name]), names))
    for name, response in zip(names, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["prediction"] == DIGITS[name]
    deadline = time.monotonic() + LOG_TIMEOUT
    while True:
        served = [w.served() - b for w, b in zip(deployment.workers, before, strict=True)]
        if sum(served) >= CONCURRENT or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert sum(served) == CONCURRENT
    assert all(n > 0 for n in served), f"jobs per worker: {served}"


def test_locust_finds_no_failures(deployment: Deployment) -> None:
    locust = Path(sys.executable).with_name("locust")
    command = [
        str(locust),
        *("-f", "bench/seed004/locustfile.py", "--headless", "-u", "5", "-r", "5", "-t", "5s"),
        *("--host", deployment.url, "--only-summary", "--json", "--skip-log"),
        "Seed004Upload",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout[done.stdout.index("[") :])
    predict = [s for s in stats if s["name"] == "digits: upload"]
    assert predict, stats
    assert predict[0]["num_requests"] > 0
    assert sum(s["num_failures"] for s in stats) == 0


def test_reads_a_digit_drawn_elsewhere(http: httpx.Client) -> None:
    # A JPEG of the seven, as a phone would send it: another format takes the same path.
    buffer = io.BytesIO()
    with Image.open(SAMPLES / "seven.png") as image:
        image.save(buffer, format="JPEG", quality=95)
    response = upload(http, "seven.JPG", buffer.getvalue())
    assert response.status_code == 200, response.text
    assert response.json()["prediction"] == "7"
    assert response.json()["image_file_name"].endswith(".jpg")


def test_as_the_template_is_written_it_answers_right_one_request_at_a_time(
    digits_dir: Path, redis_url: str, tmp_path: Path
) -> None:
    # --blocking: sync Redis calls and time.sleep in the async route, as the seed's template.
    with (
        running(
            model=digits_dir / "digits",
            redis_url=redis_url,
            queue=f"seed004-test-{uuid.uuid4().hex[:12]}",
            workdir=tmp_path,
            workers=1,
            blocking=True,
        ) as blocking,
        httpx.Client(base_url=blocking.url, timeout=30.0) as client,
    ):
        seven = (SAMPLES / "seven.png").read_bytes()

        def one(_: int) -> httpx.Response:
            return upload(client, "seven.png", seven)

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(one, range(4)))
    assert [a.json()["prediction"] for a in answers] == ["7"] * 4
