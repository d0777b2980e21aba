"""The shape of a message that reports rather than asks: cross-posts, FYIs, green status posts.

Urgency is "act now". A message re-shared from elsewhere (a cross-post marker, or a body that is
little more than a link to another Slack message), one that says it needs no action (an FYI
marker), or a status post whose items are all green, reports news that may still carry risk (the
risk scorer judges its words) but asks nobody to act. :func:`routine_shape` reads that shape from
the whole message, not from single trigger words, so "line down" inside an FYI does not make the
FYI urgent, while an explicit ask inside a cross-post ("need answer by EOD") still does, and any
item that is not green ("not on track", "at risk", ❌) keeps a status post out of the shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SHAPE_CHARS = 4000  # longer texts are read up to here: bounded work on untrusted input

_CROSSPOST = re.compile(
    r"\b(?:x-?post(?:ed|ing)?|cross-?post(?:ed|ing)?|crossposting|in case you missed it|icymi|"
    r"re-?post(?:ed|ing)?\s+(?:from|of)|sharing\s+(?:from|this\s+from)|forward(?:ed|ing)?\s+from|"
    r"fwd\s+from|copying\s+(?:over\s+)?from)\b",
    re.IGNORECASE,
)
_PERMALINK = re.compile(r"https?://[\w.-]+\.slack\.com/archives/[A-Z0-9]+/p\d+\S*", re.IGNORECASE)
_FYI = re.compile(
    r"(?<![\w-])(?:f\.?y\.?i\.?|for\s+your\s+information|for\s+(?:your\s+)?awareness|"
    r"for\s+(?:your\s+)?visibility|for\s+your\s+records|for\s+reference|informational\s+only|"
    r"just\s+(?:so\s+you\s+know|keeping\s+you\s+posted|sharing))(?![\w-])",
    re.IGNORECASE,
)
_NO_ACTION = re.compile(
    r"\b(?:no\s+action\s+(?:is\s+)?(?:needed|required|necessary|item)|nothing\s+(?:to\s+do|needed)|"
    r"no\s+need\s+to\s+(?:act|respond|reply|do\s+anything)|no\s+response\s+(?:needed|required))\b",
    re.IGNORECASE,
)
_ACT_NOW = re.compile(
    r"\b(?:need(?:s|ed)?\s+(?:an?\s+|your\s+)?(?:answer|decision|approval|sign-?off|response|"
    r"call|help|input)|by\s+(?:eod|cob|end\s+of\s+(?:the\s+)?day|tonight|noon|today)|asap|"
    r"urgent(?:ly)?|immediately|right\s+now|please\s+(?:confirm|approve|respond|advise|escalate|"
    r"call|help)|can\s+(?:someone|anyone|you)\s+\w+|who\s+can\s+\w+)\b",
    re.IGNORECASE,
)
_GREEN_MARKER = re.compile(
    r"\b(?:all\s+(?:items\s+|workstreams\s+|tracks\s+)?(?:green|on\s+track|good|clear)|"
    r"status\s*[:=-]\s*green|everything\s+(?:is\s+)?(?:green|on\s+track)|green\s+across|"
    r"all\s+systems\s+go)\b",
    re.IGNORECASE,
)
_GREEN_ITEM = re.compile(
    r"✅|☑️|✔️|🟢|:(?:white_check_mark|heavy_check_mark|ballot_box_with_check|large_green_circle|"
    r"green_circle|green_heart):|\b(?:green|on\s+track|on\s+schedule|on\s+plan|complete[d]?|done|"
    r"closed|passed|shipped|ok)\b",
    re.IGNORECASE,
)
# A "no …" that is good news, removed before looking for trouble: "no blockers", "no delays".
_GOOD_NEGATION = re.compile(
    r"\b(?:no|zero|0)\s+(?:new\s+|open\s+|known\s+)?(?:blockers?|issues?|delays?|risks?|escalations?|"
    r"concerns?|slips?)\b",
    re.IGNORECASE,
)
_NOT_GREEN = re.compile(
    r"❌|🔴|🟡|🟠|⚠️|:(?:x|red_circle|large_red_circle|large_yellow_circle|large_orange_circle|"
    r"warning|rotating_light|fire|no_entry):|\b(?:red|amber|yellow|at\s+risk|blocked|blockers?|"
    r"delay(?:ed|s)?|slip(?:ped|ping|s)?|behind|off\s+track|late|down|fail(?:ed|ing|ure)?|stopped|"
    r"on\s+hold|hold|escalat\w*|short(?:age)?|missed|issue|problem)\b|"
    r"\b(?:not|no\s+longer|isn't|aren't|won't|never)\s+(?:\w+\s+){0,2}?"
    r"(?:green|on\s+track|on\s+schedule|on\s+plan|done|complete[d]?|ok|good)\b",
    re.IGNORECASE,
)
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
