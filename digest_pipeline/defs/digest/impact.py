"""What a risk puts at stake, read from its messages: money, units, days, a stop, safety.

A digest ranks risks by business impact, not by how many messages they drew: a $340k deal going
quiet outranks port congestion with no figure attached. :func:`read_impact` pulls the figures
people write ("$340k", "~12k units short", "ships in 3 days", "line down", "caught fire") out of a
thread's messages; :meth:`Impact.points` turns them into a score on a log scale (an order of
magnitude of money or units is worth about one point), and :meth:`Impact.facts` shows them on the
digest line, so a reader sees why a risk is ranked where it is.

Text is untrusted and may be long: every pattern is linear, and only the first
:data:`MAX_CHARS` characters of a message are read. The patterns are data in
``digest_pipeline/vocabulary/impact.toml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from digest_pipeline import vocabulary

MAX_CHARS = 2_000

_FIGURES = vocabulary.patterns("impact", "patterns", vocabulary.patterns("impact", "fragments"))
_MULTIPLIERS: dict[str, float] = {
    word: float(value) for word, value in vocabulary.load("impact")["multipliers"].items()
}
_MONEY = re.compile(_FIGURES["money"], re.IGNORECASE)
_UNITS = re.compile(_FIGURES["units"], re.IGNORECASE)
_DAYS_LEFT = re.compile(_FIGURES["days_left"], re.IGNORECASE)
_STOPPED = re.compile(_FIGURES["stopped"], re.IGNORECASE)
_SAFETY = re.compile(_FIGURES["safety"], re.IGNORECASE)
# Negated or resolved mentions do not count ("no injuries", "line is back up").
_NEGATED = re.compile(vocabulary.text("slack", "negation.before_figure"), re.IGNORECASE)


def _number(text: str, scale: str | None) -> float:
    digits = text
    if re.fullmatch(r"\d{1,3}(?:[,.]\d{3})+", text):
        digits = re.sub(r"[,.]", "", text)
    try:
        value = float(digits)
    except ValueError:
        return 0.0
    return value * _MULTIPLIERS.get((scale or "").lower(), 1.0)


def _first_unnegated(pattern: re.Pattern[str], text: str) -> bool:
    for match in pattern.finditer(text):
        before = text[max(0, match.start() - 20) : match.start()]
        if not _NEGATED.search(before):
            return True
    return False


@dataclass(frozen=True)
class Impact:
    """The largest figures a risk's messages state."""

    money: float = 0.0  # USD-like amount at stake
    units: float = 0.0  # units short, held or affected
    days_left: int | None = None  # days until something committed happens
    stopped: bool = False  # production or shipments stopped
    safety: bool = False  # a safety event

    def points(self) -> float:
        """Impact on a log scale: ~1 point per order of magnitude above $1k or 100 units;
        3 for safety, 2 for a stop, up to 1.5 for a deadline within days."""
        score = 0.0
        if self.safety:
            score += 3.0
        if self.stopped:
            score += 2.0
        if self.money >= 1_000:
            score += min(math.log10(self.money) - 3, 3.0) + 0.5
        if self.units >= 100:
            score += min(math.log10(self.units) - 2, 2.5) + 0.5
        if self.days_left is not None:
            score += 1.5 if self.days_left <= 3 else 1.0 if self.days_left <= 14 else 0.0
        return round(score, 3)

    def facts(self) -> list[str]:
        """The figures as a reader would write them: "$340k", "12k units", "line stopped"."""
        out = []
        if self.safety:
            out.append("safety")
        if self.stopped:
            out.append("stopped")
        if self.money >= 1_000:
            out.append("$" + _short(self.money))
        if self.units >= 100:
            out.append(_short(self.units) + " units")
        if self.days_left is not None and self.days_left <= 14:
            out.append(f"{self.days_left} day{'s' if self.days_left != 1 else ''} left")
        return out

    def __or__(self, other: Impact) -> Impact:
        days = [d for d in (self.days_left, other.days_left) if d is not None]
        return Impact(
            money=max(self.money, other.money),
            units=max(self.units, other.units),
            days_left=min(days) if days else None,
            stopped=self.stopped or other.stopped,
            safety=self.safety or other.safety,
        )


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def read_impact(text: object) -> Impact:
    """The figures one message states (nothing for a non-string)."""
    if not isinstance(text, str) or not text:
        return Impact()
    text = text[:MAX_CHARS]
    money = max((_number(m[1] or m[3], m[2] or m[4]) for m in _MONEY.finditer(text)), default=0.0)
    units = max((_number(m[1], "k" if m[2] else None) for m in _UNITS.finditer(text)), default=0.0)
    days: list[int] = []
    for m in _DAYS_LEFT.finditer(text):
        count, unit = (m[1], m[2]) if m[1] else (m[3], m[4])
        days.append(int(count) * (7 if unit.lower().startswith("w") else 1))
    return Impact(
        money=money,
        units=units,
        days_left=min(days) if days else None,
        stopped=_first_unnegated(_STOPPED, text),
        safety=_first_unnegated(_SAFETY, text),
    )


def thread_impact(texts: Iterable[object]) -> Impact:
    """The largest figures across a thread's messages."""
    total = Impact()
    for text in texts:
        total = total | read_impact(text)
    return total
