"""``servekit users``: accounts, made and removed from a shell."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from servekit.cli.common import console, database_url
from servekit.cli.common import fail as _fail
from servekit.config import Settings
from servekit.exceptions import ServekitError

users_app = typer.Typer(
    help="Accounts (there is no default account: create the first admin here).",
    no_args_is_help=True,
)


def _with_session(work: Any, *, create: bool = False) -> Any:
    """Run ``work(session)`` on the configured database (said on stderr).

    Only ``create`` makes a database that is not there (and says so); otherwise a missing one is
    an error naming where it was looked for.
    """
    from servekit.storage.db import Database

    url = database_url(must_exist=not create)

    async def run() -> Any:
        async with Database(url) as database:
            await database.prepare(create_empty=create)
            async with database.session() as session:
                return await work(session)

    try:
        return asyncio.run(run())
    except ServekitError as exc:
        raise _fail(str(exc)) from None


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email, used to log in.")],
    name: Annotated[str, typer.Option(help="The user's name.")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account; the password is asked for (never given on the command line)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic.networks import EmailStr

    from servekit.auth.names import name_problem, normalize_email
    from servekit.auth.passwords import check_strength, hash_password
    from servekit.storage.users import create_user

    try:
        email = TypeAdapter(EmailStr).validate_python(normalize_email(email))
    except ValidationError:
        raise _fail(f"{email!r} is not a valid email address") from None
    if (problem := name_problem(name)) is not None:
        raise _fail(problem)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password, email=email, name=name)
    except ServekitError as exc:
        raise _fail(str(exc)) from None
    password_hash = hash_password(password)
    user = _with_session(
        lambda s: create_user(
            s,
            email=email,
            name=name,
            password_hash=password_hash,
            role="admin" if admin else "user",
        ),
        create=True,
    )
    console.print(f"created {user.role} {user.email} (id {user.id})")


@users_app.command("list")
def users_list() -> None:
    """List every account."""
    from servekit.storage.users import list_users

    table = Table("id", "email", "name", "role", "created")
    for user in _with_session(list_users):
        table.add_row(
            str(user.id),
            user.email,
            user.name,
            user.role,
            user.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


@users_app.command("delete")
def users_delete(
    email: Annotated[str, typer.Argument(help="The email of the account to delete.")],
) -> None:
    """Delete an account: its tokens and keys stop working, its feedback goes."""
    from servekit.auth.names import normalize_email
    from servekit.storage.users import delete_user, get_user_by_email

    email = normalize_email(email)

    async def work(session: Any) -> int | None:
        user = await get_user_by_email(session, email=email)
        if user is None or not await delete_user(session, user_id=user.id):
            return None
        await _announce_revocation(user.id)
        return user.id

    if _with_session(work) is None:
        raise _fail(f"no user with email {email}", code=1)
    console.print(f"deleted {email}")


async def _announce_revocation(user_id: int) -> None:
    # Servers cache a token's check for a moment (auth.access_cache_s); with Redis they hear of
    # the deletion at once.
    settings = Settings()
    if settings.redis_url is None:
        return
    from servekit.auth.revocation import announce, channel, user_revoked
    from servekit.queue.connection import connect

    redis = connect(settings.redis_url)
    try:
        await announce(redis, channel(settings.queue.prefix), user_revoked(user_id))
    finally:
        await redis.aclose()
