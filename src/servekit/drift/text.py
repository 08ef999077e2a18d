"""Texts unlike the reference texts: their length, and the script their letters are in.

Both are read from the text alone, before the model runs, and cost one pass over it. Neither
sees what a text is about: a text of the usual length and script on a topic the pipeline never
saw (or in another language of the same script) passes both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from servekit.drift.ood import OODWarning, range_bounds
from servekit.drift.scripts import foreign_share, main_scripts
from servekit.drift.stats import numeric_stats
from servekit.repository.manifest import Manifest
from servekit.repository.stats import NumericStats, TextStats

MOSTLY = 0.5
"""A text is flagged when more than this share of its letters is in another script, at least
(or more than the reference texts had, if they had more)."""


def text_stats(texts: Sequence[str]) -> TextStats:
    """What the checks compare with: the texts' lengths, scripts and share of other scripts."""
    if not texts:
        raise ValueError("the statistics need at least one reference text")
    scripts = main_scripts(texts)
    return TextStats(
        count=len(texts),
        chars=numeric_stats([len(t) for t in texts]),
        scripts=scripts,
        foreign=numeric_stats([foreign_share(t, scripts) for t in texts]),
    )


def length_bounds(chars: NumericStats, margin: float) -> tuple[float, float]:
    """The reference lengths' range, widened by ``margin`` of its width on a log scale.

    NOTE: lengths are compared by ratio, not difference: on a linear scale, references of 30 to
    600 characters would take a text of 1 character as readily as one of 30.
    """
    low, high = math.log(max(chars.min, 1)), math.log(max(chars.max, 1))
    slack = margin * ((high - low) or 1.0)
    return math.exp(low - slack), math.exp(high + slack)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


class TextChecker:
    """Checks texts against a manifest's ``training_stats.text`` (nothing to check without it)."""

    def __init__(self, manifest: Manifest) -> None:
        stats = manifest.training_stats.text if manifest.training_stats else None
        self.stats = stats
        margin = manifest.ood.range_margin
        if stats is not None:
            self.shortest, self.longest = length_bounds(stats.chars, margin)
            self.foreign_max = max(range_bounds(stats.foreign, margin)[1], MOSTLY)
            self.scripts = ", ".join(s.title() for s in stats.scripts)

    def check(self, texts: Sequence[str]) -> list[list[OODWarning]]:
        """Each text's findings: a length outside the reference range, letters of another script."""
        if self.stats is None:
            return [[] for _ in texts]
        return [self._findings(text) for text in texts]

    def _findings(self, text: str) -> list[OODWarning]:
        stats = self.stats
        assert stats is not None
        found = []
        n = len(text)
        if not self.shortest <= n <= self.longest:
            said = f"between {_fmt(self.shortest)} and {_fmt(self.longest)} characters"
            seen = f"between {_fmt(stats.chars.min)} and {_fmt(stats.chars.max)}"
            found.append(
                OODWarning(
                    "length",
                    "out_of_range",
                    n,
                    said,
                    f"the text is {n:,} characters long; the reference texts were {seen}",
                )
            )
        share = foreign_share(text, stats.scripts) if stats.scripts else 0.0
        if share > self.foreign_max:
            said = f"at most {_fmt(self.foreign_max)} of the letters outside {self.scripts}"
            found.append(
                OODWarning(
                    "script",
                    "out_of_range",
                    round(share, 4),
                    said,
                    f"{share:.0%} of the text's letters are in another script than the model "
                    f"reads ({self.scripts})",
                )
            )
        return found
