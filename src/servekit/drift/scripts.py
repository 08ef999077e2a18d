"""Which writing system a text's letters are in: the script signal of text inputs.

A pipeline reads the script it was trained on; a text mostly in another (Cyrillic sent to an
English pipeline) gets no useful entities, only odd ones, and nothing else would say so.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

COVERAGE = 0.99
"""The scripts of a set of texts are the fewest that hold this share of their letters."""


@lru_cache(maxsize=65_536)
def script_of(char: str) -> str:
    """The script a letter belongs to, by the first word of its Unicode name (``LATIN``, ``CJK``)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def letters_by_script(text: str) -> Counter[str]:
    """How many of the text's letters are in each script."""
    if text.isascii():  # the common case, without a look-up per character
        return Counter({"LATIN": sum(1 for c in text if c.isalpha())})
    return Counter(script_of(c) for c in text if c.isalpha())


def main_scripts(texts: Iterable[str]) -> list[str]:
    """The fewest scripts that hold 99% of the texts' letters, most used first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts += letters_by_script(text)
    total = sum(counts.values())
    chosen: list[str] = []
    held = 0
    for script, n in counts.most_common():
        if total and held >= COVERAGE * total:
            break
        chosen.append(script)
        held += n
    return chosen


def foreign_share(text: str, scripts: Sequence[str]) -> float:
    """The share of the text's letters in none of ``scripts`` (0 for a text without letters)."""
    counts = letters_by_script(text)
    total = sum(counts.values())
    if not total:
        return 0.0
    return 1 - sum(counts[s] for s in scripts) / total
