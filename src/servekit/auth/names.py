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


def _refused(char: str) -> bool:
    # Controls (NUL, escapes, newlines), lone surrogates (no text encodes them), and the format
    # characters of the basic plane but the joiners. Those of the other planes (tags, musical
    # formatting) stay: a schema's pattern cannot name them, and they reorder nothing.
    category = unicodedata.category(char)
    return category in ("Cc", "Cs") or (
        category == "Cf" and ord(char) < 0x10000 and char not in _ALLOWED_FORMAT
    )


def _refused_ranges() -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if _refused(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return ranges


def _char(code: int) -> str:
    # NOTE: the characters themselves, not \\u escapes, which the fuzzer's regex reading skips;
    # but surrogates as escapes: no text encodes one (the schema is sent as UTF-8).
    return f"\\u{code:04x}" if 0xD800 <= code <= 0xDFFF else chr(code)


NAME_PATTERN = "^[^{}]*$".format(
    "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in _refused_ranges())
)
"""What a name matches, as a JSON Schema pattern (the same rule as ``name_problem``)."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user's name (a control or hidden character), or None."""
    for char in name:
        if _refused(char):
            return f"the name must not contain control or invisible characters (found U+{ord(char):04X})"
    return None
