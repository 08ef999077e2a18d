"""Whole-process fixtures: ``servekit serve`` spawned over the trained examples, and clients of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, running_server


@pytest.fixture(scope="module")
def server(examples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server over the examples with default settings, shared by the tests of a module."""
    with running_server(examples_dir, tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    """A client of the module's server."""
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        yield client


ServerFactory = Callable[..., Server]


@pytest.fixture
def spawn_server(examples_dir: Path, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with special settings (``env``, ``port``, ``port_flag``, ``models``) for one test.

    Every server started is stopped after the test.
    """
    with ExitStack() as stack:

        def spawn(
            *,
            models: Path = examples_dir,
            port: int | None = None,
            port_flag: bool = True,
            env: Mapping[str, str] | None = None,
        ) -> Server:
            return stack.enter_context(
                running_server(models, tmp_path, port=port, port_flag=port_flag, env=env)
            )

        yield spawn
