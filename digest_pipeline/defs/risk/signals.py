"""The rules scorer's reading of one text: untrusted text stripped, risk signals found; and the
risk category, derived from the message's category (:func:`risk_category`).

The vocabulary (signals, cues) is data in
``digest_pipeline/vocabulary/risk_rules.toml``; this module compiles it once, at import, and
indexes every pattern by the words it spells (:mod:`~digest_pipeline.defs.risk.text_index`).
"""

from __future__ import annotations

import re

from digest_pipeline import vocabulary
from digest_pipeline.defs.risk.grading import HANDLERS, MEDIUM, NONE, Finding
from digest_pipeline.defs.risk.text_index import (
    Gated,
    compile_split,
    gated,
    keys_of,
)

# Patterns run on lower-cased text: IGNORECASE would only make Python's re slower.
_F = 0
_CUES = vocabulary.patterns("risk_rules", "cues")
_GATES = vocabulary.load("risk_rules")["gates"]

# 1. Prompt injection: sentences addressed to a model or scorer are dropped before scoring.
_INJECTION_HINT = re.compile(_CUES["injection_hint"], _F)
_INJECTION = re.compile(_CUES["injection"], _F)
_SENTENCE_SPLIT = re.compile(r"[.!?;:](?:\s+|$)|\n+")
_JSON_BLOB = re.compile(r"\{[^{}]*\}")
# 2. Harmless idioms that contain alarming words.
_HARMLESS = re.compile(_CUES["harmless"], _F)

NEGATED = re.compile(vocabulary.text("slack", "negation.before_signal"), _F)
RESOLVED = re.compile(vocabulary.text("slack", "resolution.pattern"), _F)
CONTINUES = re.compile(_CUES["continues"], _F)
MITIGATED = re.compile(_CUES["mitigated"], _F)
SARCASM = re.compile(_CUES["sarcasm"], _F)
ACK = re.compile(vocabulary.text("slack", "acknowledgement.reply"), _F)
QUESTION = re.compile(_CUES["question"], _F)
DEADLINE = re.compile(_CUES["deadline"], _F)
ASK = re.compile(_CUES["ask"], _F)
COMPONENT = re.compile(_CUES["component"], re.IGNORECASE)

SIGNALS = vocabulary.rule_signals()
_SIGNAL_TABLE: tuple[
    tuple[vocabulary.SignalSpec, re.Pattern[str] | None, re.Pattern[str] | None], ...
] = tuple((spec, *compile_split(spec.pattern)) for spec in SIGNALS)
_CJK_SIGNALS = tuple(i for i, row in enumerate(_SIGNAL_TABLE) if row[2] is not None)
SIGNALS_BY_KEY: dict[str, list[int]] = {}
for _index, _spec in enumerate(SIGNALS):
    for _key in keys_of(_spec.pattern):
        SIGNALS_BY_KEY.setdefault(_key, []).append(_index)
del _index, _spec, _key
SIGNAL_KEYS = frozenset(SIGNALS_BY_KEY)

_INJECTION_GATE = gated(_INJECTION_HINT, _GATES["injection_hint"])
_HARMLESS_GATE = gated(_HARMLESS, _GATES["harmless"])
SARCASM_GATE: Gated = gated(SARCASM, chars=_GATES["sarcasm_chars"])


def strip_untrusted(low: str, keys: set[str], cjk: bool) -> str:
    """Drop sentences addressed to a scorer; blank out harmless alarming idioms."""
    if _INJECTION_GATE.search(low, keys, cjk):
        low = _JSON_BLOB.sub(" ", low)
        low = " . ".join(s for s in _SENTENCE_SPLIT.split(low) if not _INJECTION.search(s))
    if _HARMLESS_GATE.search(low, keys, cjk):
        low = _HARMLESS.sub(" ", low)
    return low


def risk_category(level: str, message_category: str, scorer_category: str | None) -> str:
    """``risk_assessments.risk_category``, derived from the message's category.

    The message's category (:func:`~digest_pipeline.defs.enrichment.classify.thread_category`:
    its words and channel, else its thread parent's), at every level, as the labeled sets define
    a category: where the message lands, or which team would act. The same engine decides
    ``messages.category``, so the two columns differ only on replies that take their parent's
    category and on risky messages that name none: for those the scorer's own guess counts (the
    model's category head, the LLM's answer, the rules signal's category), since a risk always
    has a category. A low message that names none has none.
    """
    if message_category != NONE:
        return message_category
    if level == "low":
        return NONE
    return scorer_category or NONE


def _candidate_signals(keys: set[str], cjk: bool) -> list[int]:
    hits: set[int] = set(_CJK_SIGNALS) if cjk else set()
    for key in keys:
        found = SIGNALS_BY_KEY.get(key)
        if found:
            hits.update(found)
    return sorted(hits)


def find_signals(low: str, keys: set[str], cjk: bool) -> list[Finding]:
    found: list[Finding] = []
    for index in _candidate_signals(keys, cjk):
        signal, latin, cjk_regex = _SIGNAL_TABLE[index]
        matches = [
            *(latin.finditer(low) if latin else ()),
            *(cjk_regex.finditer(low) if cjk and cjk_regex else ()),
        ]
        for match in matches:
            start = match.start()
            if NEGATED.search(low, max(0, start - 40), start):
                continue
            handler = HANDLERS.get(signal.name)
            if handler is None:
                found.append(Finding(signal.level or MEDIUM, signal.category, signal.label))
                continue
            finding = handler(match.group(), low)
            if finding is None:
                continue
            if finding.category is None and signal.category is not None:
                finding = Finding(finding.level, signal.category, finding.label, finding.detail)
            found.append(finding)
    return found


def is_resolved(low: str) -> bool:
    """A resolution phrase that is not itself negated ("hasn't responded", "not fixed")."""
    return any(
        not NEGATED.search(low, max(0, m.start() - 40), m.start()) for m in RESOLVED.finditer(low)
    )
