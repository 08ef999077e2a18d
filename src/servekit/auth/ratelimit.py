"""Failed logins limited so that guessing is slow and a known email cannot keep its owner out.

Each attempt is counted before its password is checked, and taken back if it succeeds (or was
refused), so concurrent guesses cannot all slip past a limit that is only read first. Counts live
where every process of a server sees them: the database, or Redis in distributed mode.

The scheme follows OWASP's "device cookie" advice. A successful login gets a signed cookie for
its email. A client showing a valid one for the email it signs in to is limited on its own
count only, so that no attacker's failures (from anywhere) lock that client out. Any other
client is limited per email and address, per address, and per email over all such clients.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from servekit.config import AuthSettings
from servekit.exceptions import TooManyAttempts

DEVICE_COOKIE = "servekit_device"


class AttemptStore(Protocol):
    """Where attempts are counted."""

    async def add(
        self, keys: list[str], *, now: float, window: float
    ) -> tuple[list[object], dict[str, tuple[int, float]]]:
        """Count one attempt per key; the tokens to take it back, and each key's count and oldest."""
        ...

    async def remove(self, tokens: list[object]) -> None:
        """Take back attempts."""
        ...

    async def clear(self, keys: list[str]) -> None:
        """Forget all attempts of the keys."""
        ...


@dataclass(frozen=True)
class Attempt:
    """One login attempt in progress: what it counted, and what success clears."""

    tokens: list[object]
    clears: list[str]


def _key(*parts: str) -> str:
    # Hashed: the store never holds an email, and every key has the same small size.
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class LoginGuard:
    """Decides whether a login attempt may be checked at all, and counts it."""

    def __init__(self, store: AttemptStore, settings: AuthSettings, secret: str) -> None:
        self.store = store
        self.settings = settings
        self._secret = hashlib.sha256(b"servekit device cookie\x00" + secret.encode()).digest()

    async def begin(self, *, email: str, address: str, device: str | None) -> Attempt:
        """Count the attempt; TooManyAttempts (with the wait) when a limit is already reached."""
        s = self.settings
        device_id = self.device_id(device, email) if device else None
        if device_id is not None:
            limits = [(_key("device", device_id), s.max_failed_logins_per_account)]
        else:
            limits = [
                (_key("pair", email, address), s.max_failed_logins_per_account),
                (_key("address", address), s.max_failed_logins_per_address),
                (_key("account", email), s.max_failed_logins_per_account_total),
            ]
        now = time.time()
        window = s.failed_login_window_s
        tokens, counts = await self.store.add([k for k, _ in limits], now=now, window=window)
        waits = [
            counts[key][1] + window - now
            for key, limit in limits
            if key in counts and counts[key][0] > limit
        ]
        if waits:
            await self.store.remove(tokens)
            raise TooManyAttempts(
                "too many failed logins; try again later", max(1, math.ceil(max(waits)))
            )
        return Attempt(tokens, [limits[0][0]])

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt and the client's earlier failures are forgotten."""
        await self.store.remove(attempt.tokens)
        await self.store.clear(attempt.clears)

    async def refused(self, attempt: Attempt) -> None:
        """The attempt was not checked after all (the server was too busy): it does not count."""
        await self.store.remove(attempt.tokens)

    @property
    def cookie_seconds(self) -> int:
        """How long a device cookie lasts."""
        return int(self.settings.device_cookie_days * 86_400)

    def device_cookie(self, email: str) -> str:
        """A new device cookie for ``email``: ``<id>.<expiry>.<signature>``."""
        device_id = secrets.token_urlsafe(16)
        expires = int(time.time()) + self.cookie_seconds
        return f"{device_id}.{expires}.{self._sign(email, device_id, expires)}"

    def device_id(self, cookie: str, email: str) -> str | None:
        """The cookie's device id when it is this server's, unexpired and for ``email``."""
        parts = cookie.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
            return None
        device_id, expires, signature = parts[0], int(parts[1]), parts[2]
        if expires < time.time():
            return None
        if not hmac.compare_digest(signature, self._sign(email, device_id, expires)):
            return None
        return device_id

    def _sign(self, email: str, device_id: str, expires: int) -> str:
        message = f"{email}\x00{device_id}\x00{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
