"""Schemathesis over every operation of the real app, with every check it has: nothing may fail.

The same run as ``schemathesis run --checks all`` against a server (examples, coverage,
fuzzing and stateful phases), in process over ASGI, once anonymously and once signed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.config import CacheConfig
from schemathesis.core.transport import Response
from schemathesis.engine import events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.python import asgi

from tests.api.test_auth import PASSWORD, SECRET
from tests.conftest import AppFactory
from tests.inputs.text_models import rules_dir  # noqa: F401  (a fixture)

SEED = 20261201
MAX_EXAMPLES = 60
"""Test cases per operation and phase: both runs take about 80 s on a 2-core machine (100,
schemathesis' default, about 115 s). 60 still finds every kind of failure the first run found."""
UNSAYABLE_REFUSALS = {"non_finite_output", "weak_password", "invalid_name"}
"""Refusals of schema-valid data that JSON Schema cannot express, and that the schema documents.

NOTE: the one exception to ``positive_data_acceptance``, and only for these two kinds of 422:
which finite numbers overflow a model's arithmetic is the model's to know, not its schema's
(``non_finite_output``); a password may not contain the user's name or email, other fields of
the same body, nor be a common one (``weak_password``). Any other 422 of valid data still fails.

NOTE: ``invalid_name`` (a control or invisible character in a name) is said in the schema, as the
name's ``pattern``; but schemathesis 4.32's fuzzing and stateful phases send names with C0 and C1
controls all the same (hypothesis' own ``from_regex`` over that pattern never does), so those
refusals are not counted either. tests/api/test_hardening.py checks the rule itself.
"""


@pytest.fixture
def fuzzed_app(make_app: AppFactory) -> Iterator[FastAPI]:
    """The example app; its lifespan runs on schemathesis' own event loop, stopped afterwards."""
    yield make_app(auth={"jwt_secret": SECRET})
    asgi.shutdown_lifespans()


def config(headers: dict[str, str] | None = None) -> schemathesis.Config:
    """``--checks all``, a fixed seed, a bounded number of examples, no examples kept between runs."""
    settings = schemathesis.Config(cache=CacheConfig(enabled=False))
    settings.update(seed=SEED, max_failures=None)
    project = settings.projects.override
    project.update(headers=headers, workers=1)  # in process, one GIL: more only reorders the run
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    return settings


def counts(context: schemathesis.HookContext, failure: Any, case: Any, response: Response) -> bool:
    """Whether a failure counts: all but valid data refused for a reason the schema cannot say."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return True
    kinds = {d.get("type") for d in response.json().get("detail") or []}
    return not kinds or not kinds <= UNSAYABLE_REFUSALS


def failures(app: FastAPI, settings: schemathesis.Config) -> list[str]:
    """Each distinct failure of the run (operation, check, title) with a curl that reproduces it."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=settings)
    schema.hook("filter_failure")(counts)
    found: dict[tuple[str, str, str], str] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    info = check.failure_info
                    if info is not None:
                        failure = info.failure
                        key = (failure.operation or event.recorder.label, check.name, failure.title)
                        found.setdefault(key, f"{failure.message}\n{info.code_sample}")
        elif isinstance(event, events.NonFatalError):
            found.setdefault((event.label, "error", type(event.value).__name__), str(event.value))
        elif isinstance(event, events.FatalError):
            found.setdefault(("run", "fatal", type(event.exception).__name__), str(event.exception))
        elif isinstance(event, events.EngineFinished):
            for failure in event.failures:
                found.setdefault(
                    (failure.operation or "run", "after run", failure.title), failure.message
                )
    return [f"{' | '.join(key)}\n{said}" for key, said in sorted(found.items())]


def sign_in(app: FastAPI) -> dict[str, str]:
    """Register a user and log in, through the app itself; the headers of a signed-in request."""
    with asgi.get_client(app) as client:
        user: dict[str, Any] = {"name": "Fuzz", "email": "fuzz@example.com", "password": PASSWORD}
        assert client.post("/users", json=user).status_code == 201
        login = client.post("/auth/token", data={"username": user["email"], "password": PASSWORD})
        assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_no_check_fails_anonymously(fuzzed_app: FastAPI) -> None:
    found = failures(fuzzed_app, config())
    assert not found, "\n\n".join(found)


def test_no_check_fails_signed_in(fuzzed_app: FastAPI) -> None:
    found = failures(fuzzed_app, config(sign_in(fuzzed_app)))
    assert not found, "\n\n".join(found)


IMAGE_REFUSALS = {"invalid_image", "invalid_base64"}
"""What the schema cannot say of an image: whether bytes (or base64 text) decode to a picture."""


def counts_for_images(
    context: schemathesis.HookContext, failure: Any, case: Any, response: Response
) -> bool:
    """``counts``, where a 415 or 422 of a schema-valid file that is no image is not a failure."""
    if isinstance(failure, RejectedPositiveData) and response.status_code in (413, 415, 422):
        body = response.json()
        kinds = {d.get("type") for d in body.get("detail") or []} or {body.get("error")}
        if kinds <= IMAGE_REFUSALS | {"unsupported_media_type", "file_too_large", "invalid_input"}:
            return False
    return counts(context, failure, case, response)


def test_an_image_models_operations_pass_every_check(tmp_path: Any) -> None:
    from servekit import Settings, create_app
    from tests.inputs.conftest import write_shade

    app = create_app(
        Settings(
            model_repository=write_shade(tmp_path / "models"),
            data_dir=tmp_path / "data",
            allow_anonymous=True,
        )
    )
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config())
        schema = schema.include(path_regex="^/models/shade")
        schema.hook("filter_failure")(counts_for_images)
        found = failures_of(schema)
        assert not found, "\n\n".join(found[:10])
    finally:
        asgi.shutdown_lifespans()


def failures_of(schema: Any) -> list[str]:
    """Each failure of a run over ``schema``, with a curl that reproduces it."""
    found: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        f = check.failure_info.failure
                        found.append(
                            f"{f.operation} {check.name} {f.title}\n{f.message}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            found.append(repr(event))
    return found


TEXT_REFUSALS = {"text_too_long"}
"""What the schema of /entities cannot say: each NER model has its own longest text."""


def counts_for_texts(
    context: schemathesis.HookContext, failure: Any, case: Any, response: Response
) -> bool:
    """``counts``, where /entities refusing a text over its model's own limit is not a failure."""
    if isinstance(failure, RejectedPositiveData) and response.status_code == 422:
        kinds = {d.get("type") for d in response.json().get("detail") or []}
        if kinds and kinds <= TEXT_REFUSALS:
            return False
    return counts(context, failure, case, response)


def test_a_text_models_operations_and_entities_pass_every_check(
    rules_dir: Any,  # noqa: F811
    tmp_path: Any,
) -> None:
    from servekit import Settings, create_app

    app = create_app(
        Settings(model_repository=rules_dir, data_dir=tmp_path / "data", allow_anonymous=True)
    )
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config())
        schema = schema.include(path_regex="^/models/rules|^/entities")
        schema.hook("filter_failure")(counts_for_texts)
        found = failures_of(schema)
        assert not found, "\n\n".join(found[:10])
    finally:
        asgi.shutdown_lifespans()
