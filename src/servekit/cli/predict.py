"""``servekit predict``: ask a running server for predictions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from servekit.cli.common import console
from servekit.cli.common import fail as _fail


def _rows(data: str | None, fields: list[str]) -> Any:
    if data is not None:
        text = (
            sys.stdin.read()
            if data == "-"
            else Path(data[1:]).read_text()
            if data.startswith("@")
            else data
        )
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(f"--data is not valid JSON: {exc}") from None
    row: dict[str, Any] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        if not sep:
            raise _fail(f"--field takes name=value, got {field!r}")
        try:
            row[key] = json.loads(value)
        except json.JSONDecodeError:
            row[key] = value
    return row


def predict(
    model: Annotated[str, typer.Argument(help="Model name.")],
    data: Annotated[str | None, typer.Option(help="JSON body, @file, or - for stdin.")] = None,
    field: Annotated[
        list[str], typer.Option("--field", "-f", help="name=value (repeatable).")
    ] = [],  # noqa: B006
    file: Annotated[
        list[Path],
        typer.Option("--file", help="An image to upload, a row each (repeatable; image models)."),
    ] = [],  # noqa: B006
    version: Annotated[str | None, typer.Option(help="Pin a version.")] = None,
    url: Annotated[
        str, typer.Option(envvar="SERVEKIT_URL", help="Server address.")
    ] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON answer.")] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SERVEKIT_TOKEN", help="Access token (POST /auth/token).", show_default=False
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="SERVEKIT_API_KEY", help="API key (POST /keys).", show_default=False),
    ] = None,
) -> None:
    """Ask a running server for predictions (with a token or an API key, from the environment too)."""
    import httpx

    path = f"/models/{model}/versions/{version}/predict" if version else f"/models/{model}/predict"
    upload: dict[str, Any] = {}
    if file:
        if data is not None or field:
            raise _fail("--file sends images: give it alone, without --data or --field")
        missing = [str(f) for f in file if not f.is_file()]
        if missing:
            raise _fail(f"no such file: {', '.join(missing)}")
        path += "/file"
        upload["files"] = [("file", (f.name, f.read_bytes())) for f in file]
    else:
        upload["json"] = _rows(data, field)
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if api_key:
        headers["X-API-Key"] = api_key
    try:
        response = httpx.post(url.rstrip("/") + path, headers=headers, timeout=30, **upload)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot reach {url}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        # A proxy's error page, or not a servekit server at all: say so instead of a traceback.
        raise _fail(f"{url} answered {response.status_code} without JSON", code=1) from None
    if response.status_code != 200:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        raise _fail(f"{response.status_code}: {message}", code=1)
    if as_json:
        console.print_json(data=answer)
        return
    title = f"{answer['model']} {answer['version']}"
    rows = answer["predictions"]
    if all(_is_forecast(row["prediction"]) for row in rows):
        _print_forecasts(title, rows)
        return
    table = Table(title=title)
    # A named-entity answer shows its redacted text where a classifier shows its probabilities.
    texts = any("anonymized_text" in row for row in rows)
    for column in ("#", "prediction", "anonymized text" if texts else "probabilities", "warnings"):
        table.add_column(column)
    for i, row in enumerate(rows):
        probs = row.get("probabilities") or {
            t["label"]: t["probability"] for t in row.get("top_k", [])
        }
        shown = row.get("anonymized_text") or ", ".join(f"{k}: {v:.3f}" for k, v in probs.items())
        prediction = row["prediction"]
        said = ", ".join(map(str, prediction)) if isinstance(prediction, list) else str(prediction)
        table.add_row(str(i), said, shown, "\n".join(w["message"] for w in row["warnings"]))
    console.print(table)


def _is_forecast(prediction: Any) -> bool:
    return (
        isinstance(prediction, list)
        and bool(prediction)
        and all(isinstance(p, dict) and "date" in p and "forecast" in p for p in prediction)
    )


def _print_forecasts(title: str, rows: list[dict[str, Any]]) -> None:
    """A forecaster's answer: a table of dated points per series, then its warnings."""
    for i, row in enumerate(rows):
        interval = row.get("interval")
        table = Table(title=f"{title}, series {i}" if len(rows) > 1 else title)
        table.add_column("date")
        table.add_column("forecast", justify="right")
        bounds = f" ({interval:.0%})" if isinstance(interval, float) else ""
        table.add_column(f"lower{bounds}", justify="right")
        table.add_column(f"upper{bounds}", justify="right")
        for point in row["prediction"]:
            table.add_row(
                point["date"],
                f"{point['forecast']:.6g}",
                f"{point['lower']:.6g}",
                f"{point['upper']:.6g}",
            )
        console.print(table)
        for warning in row["warnings"]:
            console.print(f"warning: {warning['message']}")
