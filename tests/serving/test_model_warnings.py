"""A warning raised inside model calls is logged once per model with its text, never once a call."""

from __future__ import annotations

import asyncio
import logging
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from servekit.serving.executor import ModelCall
from tests.runtimes.test_python import MakeModel, make_model  # noqa: F401  (a fixture)

NOISY = """
import warnings


class Noisy:
    def predict(self, rows):
        warnings.warn("X has feature names, but Noisy was fitted without feature names")
        return [row["x"] for row in rows]
"""


def test_a_models_warning_is_logged_once_per_model(
    make_model: MakeModel,  # noqa: F811  (the fixture imported above)
    caplog: pytest.LogCaptureFixture,
) -> None:
    one = make_model(NOISY, entrypoint="model:Noisy", name="noisy")
    two = make_model(NOISY, entrypoint="model:Noisy", name="other")
    pool = ThreadPoolExecutor(2)

    async def calls() -> None:
        for runtime in (one, two):
            call = ModelCall(runtime, pool)
            for _ in range(20):
                assert [o.prediction for o in await call([{"x": 1.0}])] == [1.0]

    # As in a server: warnings shown, not raised (pytest raises them here), and shown every time
    # they come, as libraries' own catch_warnings make Python do.
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING, logger="servekit.model"):
            asyncio.run(calls())
    pool.shutdown()
    said = [r for r in caplog.records if r.name == "servekit.model"]
    assert [r.getMessage() for r in said] == [
        f"model {key} warned (said once per model): UserWarning: "
        "X has feature names, but Noisy was fitted without feature names"
        for key in ("noisy:1", "other:1")
    ]
