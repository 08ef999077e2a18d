"""``servekit package``, ``servekit predict`` and ``servekit examples``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from servekit.cli.common import console, err
from servekit.cli.common import fail as _fail
from servekit.exceptions import ServekitError

examples_app = typer.Typer(help="The bundled example models.", no_args_is_help=True)


def _read_table(path: Path, datetimes: list[str], categories: list[str]) -> Any:
    import pandas as pd

    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix in (".csv", ".txt"):
        frame = pd.read_csv(path)
    else:
        raise _fail(f"{path}: training data must be .csv or .parquet")
    for column in [*datetimes, *categories]:
        if column not in frame.columns:
            raise _fail(f"{path} has no column {column!r}")
    for column in datetimes:
        try:
            # As read_csv(parse_dates=...) reads them, which is what the model was trained on.
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise _fail(f"{path}: column {column!r} is not dates: {exc}") from None
    for column in categories:
        frame[column] = frame[column].astype("category")
    for column in frame.columns:
        text = pd.api.types.is_string_dtype(frame[column]) or frame[column].dtype == object
        if text and column not in datetimes and _looks_like_dates(frame[column]):
            err.print(
                f"note: column {column!r} looks like dates but is served as text; if the model "
                f"was trained on parsed dates, pass --datetime {column}",
                highlight=False,
                soft_wrap=True,
            )
    return frame


def _looks_like_dates(column: Any) -> bool:
    import pandas as pd

    values = column.dropna().astype(str).head(100)
    if values.empty or not values.str.contains(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    try:
        pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


def _load_pickle(model: Path, code: list[Path]) -> Any:
    import joblib

    from servekit.runtimes.folder_modules import on_path, unpickling_help

    with on_path([c.resolve().parent for c in code]):
        try:
            return joblib.load(model)
        except (AttributeError, ModuleNotFoundError) as exc:
            said = unpickling_help(exc, model)
            if said is None:
                raise
            raise _fail(said) from None


def package(
    model: Annotated[
        Path, typer.Option(help="Fitted model: .joblib/.pkl (scikit-learn) or .onnx.")
    ],
    data: Annotated[
        Path, typer.Option(help="Training data (.csv or .parquet), one column per feature.")
    ],
    name: Annotated[str, typer.Option(help="Model name (lowercase, as in URLs).")],
    out: Annotated[Path, typer.Option(help="Folder to write.")],
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    target: Annotated[
        str | None, typer.Option(help="Column of the data to drop (the label).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="classification or regression (inferred).")
    ] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated class labels (ONNX).")] = None,
    description: Annotated[str, typer.Option(help="One line about the model.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
    datetime_columns: Annotated[
        list[str],
        typer.Option(
            "--datetime",
            help="A column of dates (ISO 8601), as the model was trained on (repeatable).",
        ),
    ] = [],  # noqa: B006
    category_columns: Annotated[
        list[str],
        typer.Option("--category", help="A column of categories (repeatable)."),
    ] = [],  # noqa: B006
    code: Annotated[
        list[Path],
        typer.Option(
            "--code",
            help="A Python file the model's pickle imports, carried in the folder (repeatable).",
        ),
    ] = [],  # noqa: B006
) -> None:
    """Write a model folder (artifact, manifest, schema, training statistics) from a fitted model."""

    from servekit.repository.package import package_model

    for module in code:
        if module.suffix != ".py" or not module.is_file():
            raise _fail(f"--code takes a Python file, not {module}")
    frame = _read_table(data, datetime_columns, category_columns)
    if target is not None:
        if target not in frame.columns:
            raise _fail(f"{data} has no column {target!r}")
        frame = frame.drop(columns=[target])
    runtime = "onnx" if model.suffix == ".onnx" else "sklearn"
    fitted: Any = model if runtime == "onnx" else _load_pickle(model, code)
    try:
        folder = package_model(
            fitted,
            frame,
            out,
            name=name,
            version=version,
            runtime=runtime,
            task=task,
            labels=labels.split(",") if labels else None,
            description=description,
            overwrite=overwrite,
            modules=code,
        )
    except FileExistsError:
        raise _fail(f"{out} is not empty (pass --overwrite to replace it)") from None
    except (ServekitError, ValueError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(folder.manifest.inputs)} features)"
    )


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

    body = _rows(data, field)
    path = f"/models/{model}/versions/{version}/predict" if version else f"/models/{model}/predict"
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if api_key:
        headers["X-API-Key"] = api_key
    try:
        response = httpx.post(url.rstrip("/") + path, json=body, headers=headers, timeout=30)
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
    table = Table(title=f"{answer['model']} {answer['version']}")
    for column in ("#", "prediction", "probabilities", "warnings"):
        table.add_column(column)
    for i, row in enumerate(answer["predictions"]):
        probs = row.get("probabilities") or {}
        shown = ", ".join(f"{k}: {v:.3f}" for k, v in probs.items())
        table.add_row(
            str(i), str(row["prediction"]), shown, "\n".join(w["message"] for w in row["warnings"])
        )
    console.print(table)


@examples_app.command("train")
def examples_train(
    out: Annotated[Path, typer.Option(help="Model repository to write into.")] = Path("models"),
    names: Annotated[
        list[str] | None, typer.Argument(help="Examples to train (default: all).")
    ] = None,
) -> None:
    """Train the bundled examples (iris, taxifare) into model folders."""
    from servekit.examples import train_examples

    try:
        folders = train_examples(out, names)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for folder in folders:
        console.print(f"trained {folder.manifest.key} -> {folder.path}")
