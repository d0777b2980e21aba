"""The rules scorer's fast path: which patterns could match a message at all.

Trying ~70 alternatives at every character is slow in Python's re, so each pattern is indexed by
the 3-letter prefixes of the words it spells out: a pattern only runs when one of its words starts
a word of the message. Texts with CJK characters run every pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN = re.compile(r"\w+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
_ESCAPES = re.compile(r"\\[a-zA-Z]")
_LETTER_RUN = re.compile(r"[^\W\d_]{3,}")
_SHORT_KEYS = frozenset({"fx", "up"})
# Words too common to select anything (whole words only: "all" is dropped, "allocat" is kept).
# Dropping them is safe as long as every alternative of a pattern also spells a rarer word; a test
# checks on the labeled set that the index finds exactly what running every pattern finds.
_STOP_WORDS = frozenset(
    "the and for can not all our are was has had have with from this that you but any now get got"
    " its off per who how what when will may did does don isn won out one two three four five six"
    " were been ing ion ies".split()
)


def _without_negative_lookarounds(pattern: str) -> str:
    """``pattern`` minus its ``(?!…)`` and ``(?<!…)`` groups: words that must *not* appear."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(("(?!", "(?<!"), i) and (i == 0 or pattern[i - 1] != "\\"):
            depth, j = 0, i
            while j < len(pattern):
                if pattern[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1
                if depth == 0:
                    break
            i = j
            continue
        out.append(pattern[i])
        i += 1
    return "".join(out)


def keys_of(pattern: str) -> frozenset[str]:
    """3-letter prefixes of the literal words in ``pattern`` (a superset of what must appear).

    Words in negative lookarounds ("customs broker" is excluded, "wrong channel" is not a
    defect) are left out: they never select a pattern, and common ones would run it on most
    messages.
    """
    runs = _LETTER_RUN.findall(_ESCAPES.sub(" ", _without_negative_lookarounds(pattern)))
    keys = {run[:3] for run in runs if run not in _STOP_WORDS}
    keys.update(k for k in _SHORT_KEYS if re.search(rf"\b{k}\b", pattern))
    return frozenset(keys)


def message_keys(low: str) -> set[str]:
    return {w[:3] for w in TOKEN.findall(low)}


@dataclass(frozen=True, slots=True)
class Gated:
    """A regex that only runs when the message could match it."""

    regex: re.Pattern[str]
    keys: frozenset[str]
    chars: str = ""

    def search(self, low: str, keys: set[str], cjk: bool) -> re.Match[str] | None:
        if cjk or not self.keys.isdisjoint(keys) or any(c in low for c in self.chars):
            return self.regex.search(low)
        return None


def gated(regex: re.Pattern[str], keys: str = "", chars: str = "") -> Gated:
    return Gated(regex, frozenset(keys.split()) or keys_of(regex.pattern), chars)


def split_alternatives(pattern: str) -> list[str]:
    """The top-level ``|`` alternatives of ``pattern``."""
    parts: list[str] = []
    depth, in_class, escaped, start = 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def compile_split(pattern: str) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """(Latin-script regex, CJK regex): CJK branches in one pattern defeat re's fast scanning."""
    latin: list[str] = []
    cjk: list[str] = []
    for alternative in split_alternatives(pattern):
        (cjk if CJK.search(alternative) else latin).append(alternative)
    return (
        re.compile("|".join(latin)) if latin else None,
        re.compile("|".join(cjk)) if cjk else None,
    )
