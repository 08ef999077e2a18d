"""The ``servekit`` command line: serve, worker, package, predict, examples, db, users, loadtest."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from servekit import __version__
from servekit.cli.accounts import users_app
from servekit.cli.database import db_app
from servekit.cli.examples import examples_app
from servekit.cli.loadtest import loadtest
from servekit.cli.package import package_app
from servekit.cli.predict import predict
from servekit.cli.serving import serve, worker

app = typer.Typer(help="servekit: serve machine-learning models over HTTP.", no_args_is_help=True)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"servekit {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Say the version and exit."
        ),
    ] = False,
) -> None:
    """servekit: serve machine-learning models over HTTP."""


app.command()(serve)
app.command()(worker)
app.add_typer(package_app, name="package")
app.command()(predict)
app.add_typer(examples_app, name="examples")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.command()(loadtest)


def main() -> None:
    """Entry point of the ``servekit`` script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
