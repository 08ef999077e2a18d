"""Accounts from the command line, on SQLite and PostgreSQL: no default password anywhere."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from servekit.auth.passwords import verify_password
from servekit.cli import app as cli
from servekit.storage.db import Database
from servekit.storage.users import get_user_by_email

PASSWORD = "correct horse battery staple\n"


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return CliRunner()


def stored_hash(database_url: str, email: str) -> str | None:
    async def read() -> str | None:
        async with Database(database_url) as database:
            await database.prepare()  # the refused commands never created the schema
            async with database.session() as session:
                user = await get_user_by_email(session, email=email)
                return None if user is None else user.password_hash

    return asyncio.run(read())


def test_the_first_admin_is_created_on_a_new_database(runner: CliRunner, database_url: str) -> None:
    created = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "Ada@Example.com",
            "--name",
            "Ada",
            "--admin",
            "--password-stdin",
        ],
        input=PASSWORD,
    )
    assert created.exit_code == 0, created.output
    assert "created admin ada@example.com" in created.output
    password_hash = stored_hash(database_url, "ada@example.com")
    assert password_hash is not None
    assert verify_password(password_hash, PASSWORD.strip())
    listed = runner.invoke(cli, ["users", "list"])
    assert "ada@example.com" in listed.output
    assert "admin" in listed.output
    assert "argon2" not in listed.output


def test_a_duplicate_email_is_refused(runner: CliRunner) -> None:
    args = ["users", "create", "--email", "ada@example.com", "--name", "Ada", "--password-stdin"]
    assert runner.invoke(cli, args, input=PASSWORD).exit_code == 0
    again = runner.invoke(cli, [*args[:3], "ADA@example.com", *args[4:]], input=PASSWORD)
    assert again.exit_code != 0
    assert "exists already" in again.stderr


def test_weak_passwords_and_bad_emails_are_refused(runner: CliRunner, database_url: str) -> None:
    weak = runner.invoke(
        cli,
        ["users", "create", "--email", "bo@example.com", "--name", "Bo", "--password-stdin"],
        input="short\n",
    )
    assert weak.exit_code != 0
    assert "at least 12 characters" in weak.stderr
    bad = runner.invoke(
        cli,
        ["users", "create", "--email", "not-an-email", "--name", "Bo", "--password-stdin"],
        input=PASSWORD,
    )
    assert bad.exit_code != 0
    assert "not a valid email" in bad.stderr
    assert stored_hash(database_url, "bo@example.com") is None


def test_delete_removes_the_account(runner: CliRunner, database_url: str) -> None:
    runner.invoke(
        cli,
        ["users", "create", "--email", "cy@example.com", "--name", "Cy", "--password-stdin"],
        input=PASSWORD,
    )
    deleted = runner.invoke(cli, ["users", "delete", "cy@example.com"])
    assert deleted.exit_code == 0, deleted.output
    assert stored_hash(database_url, "cy@example.com") is None
    missing = runner.invoke(cli, ["users", "delete", "cy@example.com"])
    assert missing.exit_code == 1
    assert "no user with email cy@example.com" in missing.stderr
