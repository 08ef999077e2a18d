"""Access tokens: JWTs signed with HS256 (pinned), with expiry, issuer and audience checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from servekit.exceptions import NotAuthenticated

ALGORITHM = "HS256"
MAX_USER_ID = 2**31 - 1
"""The largest id a users table holds (a 32-bit integer on Postgres)."""
ROLES = ("user", "admin")
"""Every role a user can have (what a token may carry)."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a checked token says: whose it is, their role, and the generation it was issued in."""

    user_id: int
    role: str
    generation: int


@dataclass(frozen=True)
class TokenService:
    """Issues and checks the tokens of one server."""

    secret: str
    issuer: str
    audience: str
    lifetime: timedelta

    def issue(self, *, user_id: int, role: str, generation: int) -> str:
        """A token for the user, valid for ``lifetime`` or until their generation moves on."""
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "role": role,
            "gen": generation,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Claims:
        """The token's claims; NotAuthenticated for anything not issued by this server and current."""
        try:
            # NOTE: the algorithm list is pinned: a token cannot choose "none" or another algorithm.
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("the token has expired; log in again") from None
        except jwt.InvalidTokenError:
            raise NotAuthenticated("the token is not valid") from None
        return _claims(claims)


def _claims(claims: dict[str, Any]) -> Claims:
    # NOTE: a signed token is still checked claim by claim: a leaked or misused secret, or a token
    # of an older servekit, must give a 401, never a 500 or an id the database cannot hold.
    sub, role, generation = claims.get("sub"), claims.get("role"), claims.get("gen", 0)
    if not (isinstance(sub, str) and sub.isascii() and sub.isdigit() and len(sub) <= 10):
        raise NotAuthenticated("the token is not valid (its subject is not a user id)")
    user_id = int(sub)
    if not 1 <= user_id <= MAX_USER_ID:
        raise NotAuthenticated("the token is not valid (its subject is not a user id)")
    if role not in ROLES:
        raise NotAuthenticated("the token is not valid (unknown role)")
    if type(generation) is not int or not 0 <= generation <= MAX_USER_ID:
        raise NotAuthenticated("the token is not valid (bad generation)")
    return Claims(user_id, role, generation)
