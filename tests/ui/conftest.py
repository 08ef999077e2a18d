"""Browser fixtures: Debian's Chromium driven by Playwright, against a real ``servekit serve``."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from tests.e2e.server import Server, running_server

CHROMIUM = os.environ.get("SERVEKIT_CHROMIUM", "/usr/bin/chromium")
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "violet hedgehog orbit 7"
ANSWERED_4XX = re.compile(r"Failed to load resource: the server responded with a status of 4\d\d")
SCREENSHOTS = os.environ.get("SERVEKIT_UI_SCREENSHOTS")
"""A folder to save a screenshot of each page into (``docs/screenshots`` for the README)."""


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium, from Debian's ``chromium`` package (Playwright's download cannot run here)."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: install Debian's `chromium` package "
            "(scripts/system-packages does, as root) or set SERVEKIT_CHROMIUM to a Chromium binary"
        )
    args = ["--disable-background-networking", "--disable-component-update"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def ui_models(
    examples_dir: Path,
    digits_dir: Path,
    ner_dir: Path,
    forecast_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A repository with one model of each kind: iris, digits, ner and forecast."""
    out = tmp_path_factory.mktemp("ui-models")
    for source in (examples_dir / "iris", digits_dir / "digits", ner_dir / "ner"):
        shutil.copytree(source, out / source.name)
    shutil.copytree(forecast_dir / "forecast", out / "forecast")
    return out


@pytest.fixture(scope="module")
def ui_server(ui_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``servekit serve`` over the four kinds, anonymous predictions allowed, with an admin."""
    env = {
        "SERVEKIT_BOOTSTRAP_ADMIN__EMAIL": ADMIN_EMAIL,
        "SERVEKIT_BOOTSTRAP_ADMIN__PASSWORD": ADMIN_PASSWORD,
    }
    with running_server(ui_models, tmp_path_factory.mktemp("ui-server"), env=env) as server:
        yield server


@pytest.fixture
def api(ui_server: Server) -> Iterator[httpx.Client]:
    """A plain client of the same server, to set up and to check what the page did."""
    with httpx.Client(base_url=ui_server.url, timeout=30.0) as client:
        yield client


class Problems:
    """What the page complained about: console errors (CSP refusals among them) and exceptions."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        # NOTE: the browser logs every 4xx answer; those the page shows are what the tests read,
        # and the page's own files are checked by their status instead (see response).
        if message.type == "error" and not ANSWERED_4XX.match(message.text):
            self.seen.append(f"console: {message.text}")

    def response(self, response: Response) -> None:
        if "/ui/static/" in response.url and response.status != 200:
            self.seen.append(f"{response.url} answered {response.status}")

    def error(self, exc: Exception) -> None:
        self.seen.append(f"exception: {exc}")


@pytest.fixture
def page(browser: Browser, ui_server: Server) -> Iterator[Page]:
    """A fresh page (no storage shared with other tests) on the server; fails on any page error.

    Every request to another host is refused and counted, as the page must need none.
    """
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 1200, "height": 900})
    problems = Problems()
    outside: list[str] = []

    def route(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        if request.url.startswith(ui_server.url):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(request.url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    opened = context.new_page()
    opened.on("console", problems.console)
    opened.on("pageerror", problems.error)
    opened.on("response", problems.response)
    opened.problems = problems  # type: ignore[attr-defined]
    yield opened
    context.close()
    assert outside == [], f"the page asked other hosts: {outside}"
    assert problems.seen == [], "\n".join(problems.seen)


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as ``<SERVEKIT_UI_SCREENSHOTS>/<name>.png`` when that is set."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def sign_in(page: Page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """Sign in from the header's form, as a user would, and wait until the page says so."""
    box = page.get_by_role("form", name="Sign in")
    box.get_by_label("Email").fill(email)
    box.get_by_label("Password").fill(password)
    box.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()


def say_it_was_wrong(page: Page, label: str, *, score: str = "", comment: str = "") -> Locator:
    """On an answered iris page: say the prediction was wrong, ``label`` right, and send it.

    Returns the feedback region, for the caller to read its confirmation.
    """
    feedback = page.get_by_role("region", name="Feedback")
    feedback.get_by_role("radio", name="No").check()
    feedback.get_by_label("The right label").select_option(label)
    if score:
        feedback.get_by_label("Score").fill(score)
    if comment:
        feedback.get_by_label("Comment").fill(comment)
    feedback.get_by_role("button", name="Send feedback").click()
    return feedback
