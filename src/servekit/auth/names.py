"""What identifies a person: emails compared in one normal form, names without control characters."""

from __future__ import annotations

import unicodedata

# Joiners shape emoji and some scripts' words; every other format character (bidirectional
# overrides, zero-width spaces) only hides what a name really says.
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})


def normalize_email(email: str) -> str:
    """The form an email is stored and compared in: NFKC, then without case.

    NOTE: NFKC first, so that full-width and other compatibility look-alikes of an address
    (full-width ``admin@…``, U+FF41 and on) are the same account as the address itself, not a second one.
    """
    return unicodedata.normalize("NFKC", email).strip().casefold()


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user's name (a control or hidden character), or None."""
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or (
            category == "Cf" and char not in _ALLOWED_FORMAT
        ):
            return f"the name must not contain control or invisible characters (found U+{ord(char):04X})"
    return None
