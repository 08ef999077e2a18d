"""Passwords: argon2id hashes that verify, and weak passwords refused with a reason."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from servekit.auth.passwords import check_strength, hash_password, verify_password
from servekit.exceptions import InputError


def test_hash_is_argon2id_at_least_owasp_strength_and_verifies() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    parameters = extract_parameters(stored)
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "correct horse battery stapler")
    assert not verify_password("not a hash", "correct horse battery staple")


def test_same_password_hashes_differently_each_time() -> None:
    assert hash_password("correct horse battery staple") != hash_password(
        "correct horse battery staple"
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 12 characters"),
        ("password1234", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("ada.lovelace-2024!", "must not contain your name or email"),
        ("my name is Lovelace", "must not contain your name or email"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        check_strength(password, email="ada.lovelace@example.com", name="Lovelace")


def test_a_reasonable_password_passes() -> None:
    check_strength("correct horse battery staple", email="ada@example.com", name="Ada")
