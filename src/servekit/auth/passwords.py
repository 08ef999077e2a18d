"""Passwords: argon2id hashes, and the minimum a password must have to be accepted."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from servekit.exceptions import InputError

MIN_LENGTH = 12
MEMORY_KIB = 19_456
"""argon2id's memory per check: OWASP's first recommended setting (19 MiB, 2 passes, 1 lane).

NOTE: not argon2-cffi's default of 64 MiB: every concurrent check holds this much, and a login
endpoint is the one place strangers make the server do it. With the checks bounded (see
``PasswordWork``) the most they can hold is this times ``auth.password_checks``."""
PASSES = 2
LANES = 1
_hasher = PasswordHasher(time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=LANES, type=Type.ID)
_COMMON = frozenset(
    {"password1234", "123456789012", "qwertyuiopas", "passwordpassword", "letmein12345"}
)


def hash_password(password: str) -> str:
    """The argon2id hash to store; the password itself is never stored or logged."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the hash (a malformed hash never matches)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for a hash made with other parameters (an older servekit's 64 MiB, say)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_strength(password: str, *, email: str, name: str) -> None:
    """Refuse a password that is short, common, one repeated character, or made of the user's own names."""
    problem = None
    lowered = password.lower()
    if len(password) < MIN_LENGTH:
        problem = f"it must have at least {MIN_LENGTH} characters"
    elif lowered in _COMMON or len(set(password)) < 4:
        problem = "it is too easy to guess"
    elif any(
        part and len(part) >= 4 and part in lowered
        for part in (email.split("@")[0].lower(), name.lower())
    ):
        problem = "it must not contain your name or email"
    if problem is not None:
        raise InputError(
            f"password refused: {problem}",
            [{"loc": ["body", "password"], "msg": problem, "type": "weak_password"}],
        )
