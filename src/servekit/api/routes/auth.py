"""Logging in: OAuth2's password flow, answered with a JWT (and a device cookie)."""

from __future__ import annotations

from functools import cache
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm

from servekit.api.deps import SessionDep, TokensDep
from servekit.api.schemas import ErrorPublic, Token
from servekit.auth.names import normalize_email
from servekit.auth.passwords import hash_password, needs_rehash, verify_password
from servekit.auth.ratelimit import DEVICE_COOKIE, LoginGuard
from servekit.auth.work import PasswordWork
from servekit.exceptions import NotAuthenticated, Overloaded
from servekit.storage.users import get_user_by_email, set_password_hash

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
        401: {"model": ErrorPublic, "description": "Wrong email or password"},
        415: {"model": ErrorPublic, "description": "The body is not a form"},
        422: {"model": ErrorPublic, "description": "A field of the form is missing"},
        429: {
            "model": ErrorPublic,
            "description": "Too many failed logins: retry after Retry-After",
        },
        503: {
            "model": ErrorPublic,
            "description": "Too many logins at once: retry after Retry-After",
        },
    },
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    response: Response,
    session: SessionDep,
    tokens: TokensDep,
    servekit_device: Annotated[str | None, Cookie(include_in_schema=False)] = None,
) -> Token:
    """Exchange an email (as ``username``) and password for an access token.

    Failed logins are limited per account and address, per address, and per account; a client
    that signed in to the account before keeps a device cookie that exempts it from others'
    failures. The answer is never cached (``Cache-Control: no-store``).
    """
    state = request.app.state
    guard: LoginGuard = state.login_guard
    work: PasswordWork = state.password_work
    email = normalize_email(form.username)
    address = request.client.host if request.client else "unknown"
    attempt = await guard.begin(email=email, address=address, device=servekit_device)
    user = await get_user_by_email(session, email=email)
    stored = user.password_hash if user is not None else _dummy_hash()
    try:
        matches = await work.run(verify_password, stored, form.password)
    except Overloaded:
        await guard.refused(attempt)
        raise
    if user is None or not matches:
        raise NotAuthenticated(WRONG)
    await guard.succeeded(attempt)
    if needs_rehash(stored):
        # An older servekit's parameters: the password is at hand, so the hash is brought up now.
        await set_password_hash(
            session,
            user=user,
            password_hash=await work.run(hash_password, form.password),
            end_tokens=False,
        )
    # RFC 6749 5.1: an answer holding a token is never cached (no-store comes from the middleware).
    response.headers["Pragma"] = "no-cache"
    response.set_cookie(
        DEVICE_COOKIE,
        guard.device_cookie(email),
        max_age=guard.cookie_seconds,
        path="/auth",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return Token(
        access_token=tokens.issue(
            user_id=user.id, role=user.role, generation=user.token_generation
        ),
        expires_in=int(tokens.lifetime.total_seconds()),
    )
