"""Access tokens: JWTs signed with HS256 (pinned), with expiry, issuer and audience checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from servekit.exceptions import NotAuthenticated

ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenService:
    """Issues and checks the tokens of one server."""

    secret: str
    issuer: str
    audience: str
    lifetime: timedelta

    def issue(self, *, user_id: int, role: str) -> str:
        """A token for the user, valid for ``lifetime``."""
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "role": role,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + self.lifetime,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
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
        return claims
