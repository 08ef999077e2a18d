"""Logging in: OAuth2's password flow, answered with a JWT."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from servekit.api.deps import SessionDep, TokensDep
from servekit.api.schemas import ErrorPublic, Token
from servekit.auth.passwords import hash_password, verify_password
from servekit.exceptions import NotAuthenticated, TooManyAttempts
from servekit.storage.users import get_user_by_email

router = APIRouter(tags=["auth"])
WRONG = "wrong email or password"


@cache
def _dummy_hash() -> str:
    # A hash nobody's password matches: checked when the account does not exist, so that the
    # answer takes as long, and says the same, as for a wrong password.
    return hash_password("no account has this password, it only costs the same time")


@router.post(
    "/auth/token",
    responses={
        401: {"model": ErrorPublic},
        429: {"model": ErrorPublic, "description": "Too many failed logins"},
    },
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    session: SessionDep,
    tokens: TokensDep,
) -> Token:
    """Exchange an email (as ``username``) and password for an access token."""
    limits = request.app.state.login_limits
    email = form.username.strip().lower()
    address = request.client.host if request.client else "unknown"
    wait = max(limits.account.retry_after(email), limits.address.retry_after(address))
    if wait:
        raise TooManyAttempts("too many failed logins; try again later", wait)
    user = await get_user_by_email(session, email=email)
    stored = user.password_hash if user is not None else _dummy_hash()
    matches = await anyio.to_thread.run_sync(verify_password, stored, form.password)
    if user is None or not matches:
        limits.account.failed(email)
        limits.address.failed(address)
        raise NotAuthenticated(WRONG)
    return Token(
        access_token=tokens.issue(user_id=user.id, role=user.role),
        expires_in=int(tokens.lifetime.total_seconds()),
    )
