"""The first admin from the environment: checked when the app is built, made when it starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio.to_thread
from pydantic import SecretStr, TypeAdapter, ValidationError
from pydantic.networks import EmailStr

from servekit.auth.names import name_problem, normalize_email
from servekit.auth.passwords import check_strength, hash_password
from servekit.config import BootstrapAdminSettings
from servekit.exceptions import ConfigurationError, Conflict, InputError
from servekit.storage.db import Database
from servekit.storage.users import create_user, get_user_by_email

log = logging.getLogger("servekit.auth")
PREFIX = "SERVEKIT_BOOTSTRAP_ADMIN__"


@dataclass(frozen=True)
class FirstAdmin:
    """An admin account to make if no user has its email."""

    email: str
    name: str
    password: SecretStr


def first_admin(settings: BootstrapAdminSettings) -> FirstAdmin | None:
    """The admin the settings ask for, or None; anything wrong (a weak password too) raises here.

    Checked at every start, before anything is served, whether the account exists or not.
    """
    password, source = _password(settings)
    if settings.email is None:
        if password is not None:
            raise ConfigurationError(f"{source} is set, but {PREFIX}EMAIL is not")
        return None
    try:
        email = TypeAdapter(EmailStr).validate_python(normalize_email(settings.email))
    except ValidationError:
        raise ConfigurationError(
            f"{PREFIX}EMAIL={settings.email!r} is not a valid email address"
        ) from None
    if not 1 <= len(settings.name) <= 200:
        raise ConfigurationError(f"{PREFIX}NAME must have 1 to 200 characters")
    if (problem := name_problem(settings.name)) is not None:
        raise ConfigurationError(f"{PREFIX}NAME: {problem}")
    if password is None:
        raise ConfigurationError(
            f"{PREFIX}EMAIL is set: set {PREFIX}PASSWORD or {PREFIX}PASSWORD_FILE too"
        )
    try:
        check_strength(password.get_secret_value(), email=email, name=settings.name)
    except InputError as exc:
        raise ConfigurationError(f"{source}: {exc}") from None
    return FirstAdmin(email=email, name=settings.name, password=password)


def _password(settings: BootstrapAdminSettings) -> tuple[SecretStr | None, str]:
    if settings.password is not None and settings.password_file is not None:
        raise ConfigurationError(f"set {PREFIX}PASSWORD or {PREFIX}PASSWORD_FILE, not both")
    if settings.password_file is None:
        return settings.password, f"{PREFIX}PASSWORD"
    source = f"{PREFIX}PASSWORD_FILE ({settings.password_file})"
    try:
        text = settings.password_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {source}: {exc}") from None
    # A secret file often ends with a newline (echo, an editor); it is not part of the password.
    return SecretStr(text.rstrip("\r\n")), source


async def ensure_admin(database: Database, admin: FirstAdmin) -> None:
    """Make the admin unless a user has its email: an existing account keeps its password and role."""
    async with database.session() as session:
        existing = await get_user_by_email(session, email=admin.email)
        if existing is not None:
            log.info(
                "the bootstrap admin %s exists (role %s): left as it is, its password unchanged",
                admin.email,
                existing.role,
            )
            return
        password_hash = await anyio.to_thread.run_sync(
            hash_password, admin.password.get_secret_value()
        )
        try:
            await create_user(
                session,
                email=admin.email,
                name=admin.name,
                password_hash=password_hash,
                role="admin",
            )
        except Conflict:
            # Another worker process of this server made it a moment ago.
            log.info("the bootstrap admin %s exists: left as it is", admin.email)
            return
    log.info("created the admin %s from %s*", admin.email, PREFIX)
