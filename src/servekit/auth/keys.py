"""API keys: random, shown once, stored as a hash and found by their prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX_BYTES = 6


def generate_key() -> tuple[str, str]:
    """A new key and its public prefix: ``sk_<prefix>_<secret>``."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    return prefix, f"sk_{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "sk" or len(parts[1]) != 2 * PREFIX_BYTES:
        return None
    return parts[1]


def key_hash(key: str) -> str:
    """What is stored: SHA-256 suffices for 256 random bits (a slow hash guards guessable secrets)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented key with a stored hash."""
    return hmac.compare_digest(key_hash(key), stored_hash)
