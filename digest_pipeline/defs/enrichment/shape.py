"""The shape of a message that reports rather than asks: cross-posts, FYIs, green status posts.

Urgency is "act now". A message re-shared from elsewhere (a cross-post marker, or a body that is
little more than a link to another Slack message), one that says it needs no action (an FYI
marker), or a status post whose items are all green, reports news that may still carry risk (the
risk scorer judges its words) but asks nobody to act. :func:`routine_shape` reads that shape from
the whole message, not from single trigger words, so "line down" inside an FYI does not make the
FYI urgent, while an explicit ask inside a cross-post ("need answer by EOD") still does, and any
item that is not green ("not on track", "at risk", ❌) keeps a status post out of the shape.
The wording is data in ``digest_pipeline/vocabulary/shape.toml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from digest_pipeline import vocabulary

MAX_SHAPE_CHARS = 4000  # longer texts are read up to here: bounded work on untrusted input

_PATTERNS = {
    name: re.compile(text, re.IGNORECASE)
    for name, text in vocabulary.patterns("shape", "patterns").items()
}
_CROSSPOST = _PATTERNS["crosspost"]
_PERMALINK = re.compile(r"https?://[\w.-]+\.slack\.com/archives/[A-Z0-9]+/p\d+\S*", re.IGNORECASE)
_FYI = _PATTERNS["fyi"]
_NO_ACTION = _PATTERNS["no_action"]
_ACT_NOW = _PATTERNS["act_now"]
_GREEN_MARKER = _PATTERNS["green_marker"]
_GREEN_ITEM = _PATTERNS["green_item"]
# A "no …" that is good news, removed before looking for trouble: "no blockers", "no delays".
_GOOD_NEGATION = _PATTERNS["good_negation"]
_NOT_GREEN = _PATTERNS["not_green"]
_ITEM_SPLIT = re.compile(r"\n|;|•|\s[-\u2013]\s|,\s")


@dataclass(frozen=True)
class Shape:
    """What kind of routine post a message is (``kind``) and whether it still asks for action."""

    kind: str  # crosspost, fyi or green_status
    asks: bool  # an explicit ask ("need answer by EOD") that keeps it urgent
    no_action: bool = False  # says outright that nobody has to act


def _is_permalink_only(text: str) -> bool:
    if "://" not in text:  # every permalink has one: most messages end here, unscanned
        return False
    links = _PERMALINK.findall(text)
    if not links:
        return False
    rest = _PERMALINK.sub(" ", text)
    words = [w for w in re.split(r"[\s()\[\]<>|:,.!]+", rest) if w and not w.startswith("@")]
    return len(words) <= 4


def _is_green_status(text: str) -> bool:
    calm = _GOOD_NEGATION.sub(" ", text)
    # A green status needs a green marker or green items (each item is a piece of ``calm``, so
    # an item's match is a match in ``calm``): without either, skip the costlier reads below.
    if not _GREEN_ITEM.search(calm) and not _GREEN_MARKER.search(calm):
        return False
    if _NOT_GREEN.search(calm):
        return False
    if _GREEN_MARKER.search(calm):
        return True
    items = [i.strip() for i in _ITEM_SPLIT.split(calm) if i.strip()]
    items = [i for i in items if not i.endswith(":")]  # headers ("Weekly status:")
    green = sum(1 for i in items if _GREEN_ITEM.search(i))
    return green >= 2 and green >= 0.6 * len(items)


def routine_shape(text: str) -> Shape | None:
    """The routine shape of a cleaned message text, or ``None`` when it has none."""
    if not text:
        return None
    text = text[:MAX_SHAPE_CHARS]
    asks = bool(_ACT_NOW.search(text))
    if _NO_ACTION.search(text):
        return Shape("fyi", asks=False, no_action=True)
    if _CROSSPOST.search(text) or _is_permalink_only(text):
        return Shape("crosspost", asks)
    if _FYI.search(text):
        return Shape("fyi", asks)
    if _is_green_status(text):
        return Shape("green_status", asks)
    return None
