"""A user's path through /ui in a real browser: sign in, predict each kind, read warnings, feedback."""

from __future__ import annotations

import io
import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect
from sklearn.datasets import load_digits

from tests.ui.conftest import say_it_was_wrong, screenshot, sign_in


def field(page: Page, name: str):  # type: ignore[no-untyped-def]
    """The form field (label, control, messages) of one input."""
    return page.locator(".field").filter(has=page.get_by_text(name, exact=True))


def test_iris_from_the_form_shows_probabilities_and_a_warning_beside_the_field(page: Page) -> None:
    page.goto("/ui")
    expect(page.get_by_text("answers predictions without signing in")).to_be_visible()
    page.get_by_role("link", name="iris").click()
    expect(page.get_by_label("sepal_length")).to_have_value("5.1")  # the example, prefilled
    page.get_by_label("petal_length").fill("14")
    page.get_by_role("button", name="Predict").click()
    answer = page.get_by_role("region", name="Answer")
    expect(answer.get_by_role("list", name="Probabilities").get_by_role("listitem")).to_have_count(
        3
    )
    expect(answer).to_contain_text("Score:")
    expect(field(page, "petal_length").locator(".warning")).to_contain_text(
        "outside the training range"
    )
    expect(field(page, "sepal_length").locator(".warning")).to_have_count(0)
    screenshot(page, "model-iris")


def test_the_servers_validation_message_is_shown_beside_its_field(page: Page) -> None:
    page.goto("/ui/models/iris")
    page.get_by_label("sepal_width").fill("")
    page.get_by_label("petal_width").fill("-1")
    page.get_by_role("button", name="Predict").click()
    expect(field(page, "sepal_width").locator(".field-error")).to_contain_text("missing")
    expect(field(page, "petal_width").locator(".field-error")).to_contain_text(
        "greater than or equal to 0"
    )
    expect(field(page, "sepal_length").locator(".field-error")).to_be_empty()
    expect(page.get_by_role("region", name="Answer")).to_be_empty()


def _digit_png(index: int) -> tuple[bytes, int]:
    digits = load_digits()
    pixels = (digits.images[index] * (255 / 16)).astype(np.uint8)
    image = Image.fromarray(pixels, mode="L").resize((64, 64), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue(), int(digits.target[index])


def test_an_uploaded_digit_is_previewed_and_read(page: Page) -> None:
    png, digit = _digit_png(3)
    page.goto("/ui/models/digits")
    page.get_by_label("Image", exact=True).set_input_files(
        {"name": "digit.png", "mimeType": "image/png", "buffer": png}
    )
    expect(page.get_by_role("img", name="Preview of digit.png")).to_be_visible()
    page.get_by_role("button", name="Predict").click()
    expect(page.locator(".prediction-value")).to_have_text(str(digit))
    screenshot(page, "model-digits")


def test_a_digit_dropped_on_the_zone_is_read(page: Page) -> None:
    png, digit = _digit_png(3)
    page.goto("/ui/models/digits")
    dropped = page.evaluate_handle(
        """(bytes) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
            return transfer;
        }""",
        list(png),
    )
    page.dispatch_event(".drop-zone", "drop", {"dataTransfer": dropped})
    expect(page.get_by_role("img", name="Preview of dropped.png")).to_be_visible()
    page.get_by_role("button", name="Predict").click()
    expect(page.locator(".prediction-value")).to_have_text(str(digit))


XSS = 'Tim Cook met <script>window.pwned = 1</script> in London <img src=x onerror="window.pwned = true">.'


def test_entities_are_highlighted_and_markup_in_the_text_is_shown_not_run(page: Page) -> None:
    page.goto("/ui/models/ner")
    page.get_by_label("Text").fill(XSS)
    page.get_by_role("button", name="Find entities").click()
    answer = page.get_by_role("region", name="Answer")
    marks = answer.locator("mark.entity")
    expect(marks.filter(has_text="Tim Cook")).to_contain_text("PERSON")
    expect(marks.filter(has_text="London")).to_contain_text("GPE")
    expect(answer.locator(".entities-text")).to_contain_text("<script>window.pwned = 1</script>")
    expect(answer.locator(".redacted")).to_contain_text('<img src=x onerror="window.pwned = true">')
    assert answer.locator("script, img").count() == 0
    assert page.evaluate("window.pwned") is None
    screenshot(page, "model-ner")


def test_a_forecast_is_charted_after_the_training_series_with_its_interval(page: Page) -> None:
    page.goto("/ui/models/forecast")
    page.get_by_label("Horizon").fill("5")
    page.get_by_role("button", name="Forecast").click()
    answer = page.get_by_role("region", name="Answer")
    expect(answer.locator("tbody tr")).to_have_count(5)
    datasets = page.evaluate(
        "Object.fromEntries(Chart.getChart(document.querySelector('.answer canvas'))"
        ".data.datasets.map(d => [d.label, d.data.filter(v => v !== null).length]))"
    )
    assert datasets == {"Training series (its end)": 90, "Lower": 5, "Upper": 5, "Forecast": 5}
    screenshot(page, "model-forecast")


def test_a_forecast_from_a_given_history(page: Page) -> None:
    history = "\n".join(f"2026-05-{day:02d},{100 + day}" for day in range(1, 31))
    page.goto("/ui/models/forecast")
    page.get_by_label("Horizon").fill("3")
    page.get_by_role("textbox", name=re.compile("^History")).fill(history)
    page.get_by_role("button", name="Forecast").click()
    expect(page.get_by_role("region", name="Answer").locator("tbody tr").first).to_contain_text(
        "2026-05-31"
    )


def test_a_signed_in_user_sends_feedback_and_finds_it_in_their_history(page: Page) -> None:
    page.goto("/ui/models/iris")
    sign_in(page)
    page.get_by_role("button", name="Predict").click()
    feedback = say_it_was_wrong(
        page, "virginica", score="2", comment="looked like <b>virginica</b> to me"
    )
    expect(feedback).to_contain_text(re.compile(r"feedback \d+ saved \(the prediction was wrong\)"))
    page.get_by_role("link", name="My predictions").click()  # the sign-in is kept
    expect(page.locator("table.history").first).to_contain_text("iris v1")
    expect(page.locator("table.history").last).to_contain_text("looked like <b>virginica</b> to me")
    screenshot(page, "history")
