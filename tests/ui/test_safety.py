"""The page is safe and usable by default: CSP, no stored token, 375 px, the keyboard, labels."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.server import Server
from tests.ui.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, screenshot, sign_in

PAGES = ["/ui", "/ui/models/iris", "/ui/models/digits", "/ui/models/ner", "/ui/models/forecast"]


def test_the_page_forbids_inline_script_and_framing(api: httpx.Client) -> None:
    for path in [*PAGES, "/ui/history", "/ui/monitor", "/ui/admin"]:
        response = api.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'", path
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert directives["frame-ancestors"] == "'none'"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.get("/ui/nothing-here").status_code == 404


def test_an_inline_script_is_refused_by_the_browser(page: Page) -> None:
    page.goto("/ui")
    refused = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.ran = true"; document.body.append(s); }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None
    assert refused, "the browser did not report the refused inline script"
    page.problems.seen.clear()  # type: ignore[attr-defined]  # that refusal was the point


def test_signing_out_forgets_the_token_and_nothing_is_stored(page: Page) -> None:
    page.goto("/ui/models/iris")
    sign_in(page)
    stored = page.evaluate(
        "[localStorage.length, sessionStorage.length, document.cookie, indexedDB !== undefined]"
    )
    assert stored[:3] == [0, 0, ""]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("form", name="Sign in")).to_be_visible()
    page.get_by_role("button", name="Predict").click()
    expect(page.get_by_role("region", name="Feedback")).to_contain_text("Sign in")
    assert page.context.cookies() == []


def test_a_wrong_password_is_said_plainly(page: Page) -> None:
    page.goto("/ui")
    box = page.get_by_role("form", name="Sign in")
    box.get_by_label("Email").fill(ADMIN_EMAIL)
    box.get_by_label("Password").fill("not the password at all")
    box.get_by_role("button", name="Sign in").click()
    expect(box.get_by_role("alert")).to_contain_text("wrong email or password")


@pytest.mark.parametrize("path", PAGES)
def test_every_control_has_a_label_and_the_page_fits_375_px(
    browser: Browser, ui_server: Server, path: str
) -> None:
    context = browser.new_context(base_url=ui_server.url, viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(path)
    page.locator("main h1").wait_for()
    if path.startswith("/ui/models/"):
        page.locator("form.predict button[type=submit]").click()
        page.get_by_role("region", name="Answer").locator("h2").or_(
            page.locator(".message.error")
        ).first.wait_for()
    unlabelled = page.evaluate(
        """[...document.querySelectorAll("input, select, textarea")]
             .filter(e => e.labels.length === 0 && !e.getAttribute("aria-label"))
             .map(e => e.name || e.outerHTML)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    if path == "/ui/models/iris":
        screenshot(page, "model-iris-375px")
    context.close()


def test_iris_is_predicted_with_the_keyboard_alone(page: Page) -> None:
    page.goto("/ui/models/iris")
    page.locator("main h1").wait_for()
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "petal_length":
            break
    page.keyboard.press("Control+a")
    page.keyboard.type("14")
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("region", name="Answer")).to_contain_text("prediction:")
    focused = []
    for _ in range(40):  # everything in the answer is reachable, down to the feedback
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate(
                "document.activeElement.tagName + ':' + document.activeElement.textContent"
            )
        )
    assert any(f.startswith("A:") for f in focused)


def test_an_admin_revokes_a_key_from_the_admin_page(page: Page, api: httpx.Client) -> None:
    token = api.post("/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    made = api.post("/keys", json={"name": "<b>batch job</b>"}, headers=auth).json()
    assert api.get("/users/me", headers={"X-API-Key": made["key"]}).status_code == 200
    page.goto("/ui")
    sign_in(page)
    page.get_by_role("link", name="Admin").click()
    expect(page.locator("table.users")).to_contain_text(ADMIN_EMAIL)
    row = page.locator("table.keys tr").filter(has_text="<b>batch job</b>")
    screenshot(page, "admin")
    row.get_by_role("button", name="Revoke key <b>batch job</b>").click()
    expect(page.get_by_text("Key <b>batch job</b> revoked.")).to_be_visible()
    expect(row.get_by_role("button")).to_have_count(0)
    assert api.get("/users/me", headers={"X-API-Key": made["key"]}).status_code == 401
