"""Sentiment in [-1, 1]: VADER's lexicon and rules, trimmed for speed, plus hardware-GTM words.

Why not ``SentimentIntensityAnalyzer.polarity_scores`` itself: it runs at roughly 25k short
messages/s, which alone would use the whole enrichment budget (≥ 50k messages/s). This scorer
keeps what carries most of VADER's signal — the lexicon, negation (x -0.74 within three
words), boosters and dampeners, "but" shifting weight to the second clause, exclamation marks,
and the same normalization ``s / sqrt(s² + 15)`` — and drops the rest (ALL-CAPS emphasis, idioms,
"least"/"kind of" special cases). Its sign agrees with VADER on ordinary text (tested).

VADER was tuned on social media, where "shortage", "slipped", "EOL" or "line down" are neutral;
``DOMAIN_LEXICON`` gives those words the negative (and "shipped", "passed", "back up" the
positive) weight they carry in a hardware company.
"""

from __future__ import annotations

import math
import re
from functools import cache

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    N_SCALAR,
    NEGATE,
    SentimentIntensityAnalyzer,
)

DOMAIN_LEXICON: dict[str, float] = {
    "shortage": -2.0,
    "shortages": -2.0,
    "allocation": -1.2,
    "eol": -1.5,
    "nrnd": -1.5,
    "obsolete": -1.5,
    "delay": -1.5,
    "delayed": -1.5,
    "delays": -1.5,
    "slip": -1.5,
    "slipped": -1.8,
    "slipping": -1.5,
    "late": -1.2,
    "behind": -1.0,
    "blocked": -1.8,
    "blocker": -1.8,
    "blocking": -1.5,
    "down": -0.8,
    "halted": -2.0,
    "stopped": -1.2,
    "defect": -1.8,
    "defects": -1.8,
    "defective": -2.0,
    "failure": -2.0,
    "failures": -2.0,
    "failing": -2.0,
    "fails": -2.0,
    "recall": -2.5,
    "rework": -1.2,
    "scrap": -1.5,
    "scrapped": -1.8,
    "rma": -1.2,
    "rmas": -1.2,
    "returns": -0.8,
    "churn": -2.0,
    "escalation": -1.5,
    "escalated": -1.5,
    "overheating": -2.0,
    "cracked": -1.8,
    "shorted": -1.8,
    "stuck": -1.5,
    "customs": -0.3,
    "hold": -0.8,
    "risk": -1.2,
    "urgent": -0.8,
    "asap": -0.6,
    "shipped": 1.5,
    "passed": 1.8,
    "pass": 1.2,
    "approved": 1.8,
    "certified": 1.5,
    "resolved": 1.8,
    "fixed": 1.5,
    "unblocked": 1.8,
    "released": 1.0,
    "ahead": 1.2,
    "on-track": 1.5,
    "track": 0.5,
    "improved": 1.8,
    "recovered": 1.8,
    "secured": 1.5,
    "signed": 1.2,
    "closed": 0.5,
    "won": 2.0,
    "launched": 1.5,
    "up": 0.3,
    "tada": 2.0,
    "white_check_mark": 1.5,
    "heavy_check_mark": 1.5,
    "rocket": 1.5,
    "fire": -1.0,
    "rotating_light": -1.5,
    "warning": -1.2,
    "sos": -2.0,
    "x": -0.5,
    "+1": 1.0,
    "thumbsup": 1.0,
    "thumbsdown": -1.0,
    "-1": -1.0,
}
_PHRASES: dict[str, str] = {
    # multi-word expressions folded into one token before lookup
    "line down": "line_down",
    "line is down": "line_down",
    "stop ship": "stop_ship",
    "back up": "back_up",
    "on track": "on-track",
    "lead time": "lead_time",
    "no problem": "no_problem",
    "no worries": "no_worries",
    "not bad": "not_bad",
    "fire drill": "fire_drill",
}
_PHRASE_VALENCE: dict[str, float] = {
    "line_down": -2.5,
    "stop_ship": -2.5,
    "back_up": 1.5,
    "lead_time": -0.3,
    "no_problem": 1.5,
    "no_worries": 1.5,
    "not_bad": 1.2,
    "fire_drill": 0.0,
}
_PHRASE_RE = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")\b"
)
_WORD_RE = re.compile(r"[a-z][a-z0-9'_+-]*|[+-]1|:[()dp]")
_NEGATIONS = frozenset(w.replace("'", "") for w in NEGATE) | frozenset(NEGATE) | {"no"}
_BUT = frozenset({"but", "however", "although", "though"})
_ALPHA = 15.0


@cache
def _lexicon() -> dict[str, float]:
    # Built once per process: VADER reads its 7.5k-word lexicon from disk.
    lexicon = dict(SentimentIntensityAnalyzer().lexicon)
    lexicon.update(DOMAIN_LEXICON)
    lexicon.update(_PHRASE_VALENCE)
    # VADER rates these as mood words; in work chat they are neutral or mean something else.
    for word in ("cap", "cell", "charge", "yield", "critical", "fire", "lead", "cut"):
        lexicon.pop(word, None)
    lexicon["fire"] = DOMAIN_LEXICON["fire"]
    return lexicon


def sentiment_score(text: str) -> float:
    """Compound sentiment of ``text`` in [-1, 1]; 0.0 for empty or neutral text."""
    if not text:
        return 0.0
    lowered = text.lower()
    if len(lowered) > 5000:
        # Long pastes (logs, specs) say little about mood: score the beginning and the end.
        lowered = lowered[:2500] + " " + lowered[-2500:]
    if " " in lowered:
        lowered = _PHRASE_RE.sub(lambda m: _PHRASES[m.group(0)], lowered)
    words = _WORD_RE.findall(lowered)
    if not words:
        return 0.0
    lexicon = _lexicon()
    total = 0.0
    weight = 1.0
    hits = False
    for i, word in enumerate(words):
        if word in _BUT:
            # VADER: the clause before "but" counts half, the one after one and a half.
            total *= 0.5
            weight = 1.5
            continue
        valence = lexicon.get(word)
        if valence is None:
            continue
        hits = True
        start = max(0, i - 3)
        for j in range(i - 1, start - 1, -1):
            prev = words[j]
            boost = BOOSTER_DICT.get(prev)
            if boost is not None:
                scale = 1.0 if j == i - 1 else (0.95 if j == i - 2 else 0.9)
                valence += math.copysign(boost * scale, valence) if valence else 0.0
            elif prev in _NEGATIONS or prev.endswith("n't"):
                valence *= N_SCALAR
                break
        total += valence * weight
    if not hits:
        return 0.0
    if total:
        bangs = min(text.count("!"), 4) * 0.292
        total += math.copysign(bangs, total)
    score = total / math.sqrt(total * total + _ALPHA)
    return max(-1.0, min(1.0, round(score, 4)))
