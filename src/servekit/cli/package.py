"""``servekit package``: a model folder from a fitted model and its training data or images.

Without a command it packages a tabular model (``--data``) or an image classifier
(``--images``); ``servekit package forecaster`` and ``servekit package spacy`` package the other
kinds, each with the options its kind needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from servekit.cli.common import console, err, packaging_errors
from servekit.cli.common import fail as _fail
from servekit.cli.series import forecaster
from servekit.cli.texts import spacy_pipeline

package_app = typer.Typer(invoke_without_command=True, no_args_is_help=True)
package_app.command()(forecaster)
package_app.command("spacy")(spacy_pipeline)


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


def _only_their_own_options(ctx: typer.Context) -> None:
    """Refuse options given before a command: they are the tabular and image models' own."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in ctx.params
        # NOTE: by the source's name: typer ships its own click, whose enum is not public.
        if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
    ]
    if given:
        raise _fail(
            f"{', '.join(given)} before `{ctx.invoked_subcommand}` is not one of its options: "
            f"give its own after it (servekit package {ctx.invoked_subcommand} --help)"
        )


@package_app.callback()
def package(
    ctx: typer.Context,
    # NOTE: not required here, which would make every command need them: checked below.
    model: Annotated[
        Path | None,
        typer.Option(
            help="Fitted model: .joblib/.pkl (scikit-learn), .onnx, or .pt2 (torch.export.save)."
            " (required)"
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Model name (lowercase, as in URLs). (required)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder to write. (required)")] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="Training data (.csv or .parquet), one column per feature (tabular)."),
    ] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    target: Annotated[
        str | None, typer.Option(help="Column of the data to drop (the label).")
    ] = None,
    task: Annotated[
        str | None, typer.Option(help="classification or regression (inferred).")
    ] = None,
    labels: Annotated[
        str | None, typer.Option(help="Comma-separated class labels (ONNX, image models).")
    ] = None,
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
    images: Annotated[
        Path | None,
        typer.Option(
            help="Image classifier: a folder of training images, one sub-folder per label "
            "(the labels, in sorted order, unless --labels gives them).",
            rich_help_panel="Image models",
        ),
    ] = None,
    image_size: Annotated[
        str,
        typer.Option(help="WIDTHxHEIGHT the model takes.", rich_help_panel="Image models"),
    ] = "224x224",
    mode: Annotated[
        str, typer.Option(help="L (grey) or RGB.", rich_help_panel="Image models")
    ] = "RGB",
    resample: Annotated[
        str,
        typer.Option(
            help="Resize filter: nearest, box, bilinear, bicubic or lanczos.",
            rich_help_panel="Image models",
        ),
    ] = "bilinear",
    layout: Annotated[
        str,
        typer.Option(help="CHW (channels first) or HWC.", rich_help_panel="Image models"),
    ] = "CHW",
    mean: Annotated[
        str | None,
        typer.Option(
            help="Per-channel mean subtracted after scaling to 0-1 (0.485,0.456,0.406).",
            rich_help_panel="Image models",
        ),
    ] = None,
    std: Annotated[
        str | None,
        typer.Option(
            help="Per-channel std divided by (0.229,0.224,0.225).", rich_help_panel="Image models"
        ),
    ] = None,
    softmax: Annotated[
        bool | None,
        typer.Option(
            help="Whether the model's output is logits to turn into probabilities "
            "(default: yes for .pt2, no for .onnx).",
            rich_help_panel="Image models",
        ),
    ] = None,
) -> None:
    """Write a model folder (artifact, manifest, schema, training statistics) from a fitted model.

    A tabular model takes --data; an image classifier (.pt2 or .onnx) takes --images.

    A forecaster and a spaCy pipeline have commands of their own: forecaster and spacy.
    """
    if ctx.invoked_subcommand is not None:
        _only_their_own_options(ctx)
        return
    missing = [o for o, v in (("--model", model), ("--name", name), ("--out", out)) if v is None]
    if model is None or name is None or out is None:
        raise _fail(f"missing option {', '.join(missing)} (servekit package --help)")

    from servekit.repository.package import package_model

    if images is not None or model.suffix == ".pt2":
        from servekit.cli.images import package_images

        if images is None:
            raise _fail("a .pt2 model is an image classifier: give its training images (--images)")
        package_images(
            model=model,
            images=images,
            name=name,
            out=out,
            version=version,
            labels=labels.split(",") if labels else None,
            description=description,
            overwrite=overwrite,
            image_size=image_size,
            mode=mode,
            resample=resample,
            layout=layout,
            mean=mean,
            std=std,
            softmax=softmax,
        )
        return
    if data is None:
        raise _fail(
            "give the training data (--data), or training images (--images) for an image model"
        )

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
    with packaging_errors(out):
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
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(folder.manifest.inputs)} features)"
    )
