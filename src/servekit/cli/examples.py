"""``servekit examples``: train the bundled example models, and write the digits' sample images."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from servekit.cli.common import console
from servekit.cli.common import fail as _fail

examples_app = typer.Typer(help="The bundled example models.", no_args_is_help=True)


@examples_app.command("train")
def examples_train(
    out: Annotated[Path, typer.Option(help="Model repository to write into.")] = Path("models"),
    names: Annotated[
        list[str] | None, typer.Argument(help="Examples to train (default: all).")
    ] = None,
) -> None:
    """Train the bundled examples (iris, taxifare, digits with PyTorch, forecast with statsmodels, ner with spaCy) into model folders."""
    from servekit.examples import train_examples

    try:
        # Without PyTorch (statsmodels, spaCy), digits (forecast, ner) is skipped with one line on stderr (a warning in the log).
        folders = train_examples(out, names)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for folder in folders:
        console.print(f"trained {folder.manifest.key} -> {folder.path}")


@examples_app.command("samples")
def examples_samples(
    out: Annotated[Path, typer.Option(help="Folder to write the images into.")] = Path(
        "examples/digits"
    ),
    model: Annotated[
        Path | None,
        typer.Option(help="The digits model folder to choose them with (trained when not given)."),
    ] = None,
) -> None:
    """Write the digits example's sample images: seven, three and zero, and a picture of noise."""
    from servekit.examples import TORCH_MISSING, torch_installed

    if not torch_installed():
        raise _fail(f"the digits samples need the digits model: {TORCH_MISSING}")
    from servekit.examples import digits
    from servekit.repository.loader import read_manifest

    with tempfile.TemporaryDirectory() as scratch:
        folder = read_manifest(model) if model else digits.train(Path(scratch) / "digits")
        written = digits.write_samples(out, folder)
    for path in written:
        console.print(f"wrote {path}")
