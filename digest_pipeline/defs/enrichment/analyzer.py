"""One pass over a message's words that feeds urgency, category, entities and sentiment.

Why a token scan and not regexes: Python's ``re`` has no trie for alternations, so a pattern of
a few hundred keywords tries every branch at every position — about 100 µs per message for the
category rules alone. Here the text is split once (``str.split``, C speed) and every word is
looked up once in a single dict that merges all vocabularies of :mod:`lexicon` plus VADER's
sentiment lexicon; multi-word phrases are tried only when their first word matches. Regexes run
only on the few tokens that mix letters and digits (part numbers, dates, amounts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT, N_SCALAR, SentimentIntensityAnalyzer

from digest_pipeline.defs.enrichment import lexicon as lx
from digest_pipeline.defs.enrichment.shape import Shape, routine_shape

# Tag kinds in the merged lexicon.
URGENCY, CALM, RESOLVED, CATEGORY, COMPONENT, SUPPLIER, CERTIFICATION = range(7)
STAGE, DATE, VALENCE, BUT, CUSTOMER_TRIGGER, CORP_SUFFIX, SUPPLIER_SUFFIX = range(7, 14)
MONTH, KNOWN_CUSTOMER, EXACT = 14, 15, 16

Tag = tuple[Any, ...]

ENTITY_KINDS: tuple[str, ...] = (
    "parts",
    "components",
    "suppliers",
    "build_stages",
    "certifications",
    "dates",
    "quantities",
    "amounts",
    "customers",
)
_PUNCT = ".,;!?()[]{}\"'*_~<>`|"
_PUNCT_COLON = _PUNCT + ":"
_LINKS = frozenset({"for", "at", "from", "with", "to"})
_BOUNDARY = frozenset(".!?;")
_CURRENCY = frozenset("$€£¥")
_NEGATIONS = lx.NEGATIONS
_PART_RE = re.compile(
    r"[A-Z][A-Z0-9]*\d[A-Z0-9]*(?:[-/+#.][A-Z0-9]+)*[A-Z0-9]?|[A-Za-z]{2,}\d{3,}[A-Za-z0-9]*"
)
_NOT_PART_RE = re.compile(
    r"""(?x)^(?:
        (?:EVT|DVT|PVT|MP|WW|Q|FY|H|CW|KW|P|SEV|REV|V|R|PO|SO|RMA|ECO|ECN|PCN|LOT|WO|NET)-?\d+[A-Z]?
        | (?:USB|PCIE|LPDDR|DDR|GDDR|HDMI|SHA|MD|UTF|IPV|IEEE|ISO|IEC|EN|IP|UN|CAT|COVID|WIFI|BT)
          [\d.]*
        | [A-Z]\d{1,3}[A-Z]?
        | [\d.]+[A-Z]{0,3}
    )$"""
)
_ISO_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T[\d:.]+Z?)?|\d{1,2}/\d{1,2}(?:/\d{2,4})?")
_WW_RE = re.compile(r"ww\d{1,2}(?:\.\d)?")
_NUMBER_RE = re.compile(r"(\d[\d,]*(?:\.\d+)?)(k|m|kk|mm)?")
_WEEKS_RE = re.compile(r"(\d{1,3})-?(?:weeks?|wks?|wk)")


@dataclass(slots=True)
class Analysis:
    """What one scan found; the public classifiers turn it into column values."""

    urgency_rank: int = 0
    calm: bool = False
    resolved: bool = False
    category_scores: dict[str, int] = field(default_factory=dict)
    valence: float = 0.0
    sentiment_hits: bool = False
    after_but: bool = False
    entities: dict[str, list[str]] = field(default_factory=dict)
    routine: Shape | None = None  # a cross-post, FYI or green status post (see shape.py)

    def add_entity(self, kind: str, value: str) -> None:
        values = self.entities.get(kind)
        if values is None:
            self.entities[kind] = [value]
        elif value not in values:
            if values[-1] in value and value.startswith(values[-1]):
                values[-1] = value  # "Northwind Health" then "Northwind Health Inc"
            else:
                values.append(value)


def _add(table: dict[str, list[Tag]], phrase: str, tag: Tag) -> None:
    table.setdefault(phrase, []).append(tag)


def _vader_lexicon() -> dict[str, float]:
    lexicon = dict(SentimentIntensityAnalyzer().lexicon)
    for word in lx.NEUTRAL_WORDS:
        lexicon.pop(word, None)
    lexicon.update(lx.DOMAIN_VALENCE)
    return lexicon


def _vocabulary(known_customers: Iterable[str]) -> dict[str, list[Tag]]:
    """phrase (lower case, space separated) → tags."""
    table: dict[str, list[Tag]] = {}
    for phrase in lx.CALM:
        for p in lx.expand(phrase):
            _add(table, p, (CALM,))
    for phrase in lx.RESOLVED:
        for p in lx.expand(phrase):
            _add(table, p, (RESOLVED,))
    for rank, phrases in ((3, lx.CRITICAL), (2, lx.HIGH), (1, lx.MEDIUM)):
        for phrase in phrases:
            for p in lx.expand(phrase):
                _add(table, p, (URGENCY, rank))
    for rank, exact in ((3, lx.EXACT_CRITICAL), (2, lx.EXACT_HIGH)):
        for spelling in exact:
            _add(table, spelling.lower(), (EXACT, spelling, (URGENCY, rank)))
    for name, (strong, weak) in lx.CATEGORY_WORDS.items():
        for weight, phrases in ((2, strong), (1, weak)):
            for phrase in phrases:
                for p in lx.expand(phrase):
                    _add(table, p, (CATEGORY, name, weight))
    for name, spellings in lx.EXACT_CATEGORY.items():
        for spelling in spellings:
            _add(table, spelling.lower(), (EXACT, spelling, (CATEGORY, name, 2)))
    for canonical, spellings in lx.COMPONENTS.items():
        for spelling in spellings:
            _add(table, spelling, (COMPONENT, canonical))
    for kind, lexicon in ((SUPPLIER, lx.SUPPLIERS), (CERTIFICATION, lx.CERTIFICATIONS)):
        for canonical, spellings in lexicon.items():
            for spelling in spellings:
                tag = (kind, canonical)
                # Single words must match their case; multi-word names are unambiguous.
                _add(
                    table,
                    spelling.lower(),
                    tag if " " in spelling else (EXACT, spelling, tag),
                )
    for canonical, spellings in lx.BUILD_STAGES.items():
        for spelling in spellings:
            _add(table, spelling, (STAGE, canonical))
    for canonical, spellings in lx.EXACT_BUILD_STAGES.items():
        for spelling in spellings:
            _add(table, spelling.lower(), (EXACT, spelling, (STAGE, canonical)))
    for phrase in lx.DATE_WORDS:
        for p in lx.expand(phrase):
            _add(table, p, (DATE,))
    for word in lx.MONTHS:
        _add(table, word, (MONTH,))
    for word in lx.CUSTOMER_TRIGGERS:
        _add(table, word, (CUSTOMER_TRIGGER,))
    for word in lx.CORPORATE_SUFFIXES:
        _add(table, word.lower().rstrip("."), (EXACT, word.rstrip("."), (CORP_SUFFIX,)))
    for word in lx.SUPPLIER_SUFFIXES:
        _add(table, word.lower(), (EXACT, word, (SUPPLIER_SUFFIX,)))
    for word in ("but", "however", "although", "though"):
        _add(table, word, (BUT,))
    for name in known_customers:
        if name and name.strip():
            _add(table, " ".join(name.lower().split()), (KNOWN_CUSTOMER, name.strip()))
    for word, valence in _vader_lexicon().items():
        _add(table, word, (VALENCE, valence))
    return table


class TextAnalyzer:
    """Scans text against the merged vocabulary. Build once; :meth:`analyze` per message."""

    def __init__(self, known_customers: Iterable[str] = ()) -> None:
        table = _vocabulary(known_customers)
        self._single: dict[str, tuple[Tag, ...]] = {}
        # first word → second word (or "*") → [(remaining words, tags)], longest first
        multi: dict[str, dict[str, list[tuple[list[str], tuple[Tag, ...]]]]] = {}
        for phrase, tags in table.items():
            words = phrase.split()
            if len(words) == 1:
                self._single[phrase] = tuple(tags)
            elif words:
                by_second = multi.setdefault(words[0], {})
                by_second.setdefault(words[1], []).append((words[2:], tuple(tags)))
        for by_second in multi.values():
            for candidates in by_second.values():
                candidates.sort(key=lambda c: len(c[0]), reverse=True)
        self._multi = multi

    def analyze(self, text: str) -> Analysis:
        """Scan ``text`` (cleaned message content) once."""
        result = Analysis()
        if not text:
            return result
        result.routine = routine_shape(text)
        raw_orig = text.split()
        raw_low = text.lower().split()
        if len(raw_low) != len(raw_orig):  # lower() changed a character's width
            raw_low = [w.lower() for w in raw_orig]
        toks = [w.strip(_PUNCT) for w in raw_low]
        if ":" in text:
            toks = [
                w if w[:1] == ":" and w[-1:] == ":" and len(w) > 2 else w.strip(":") for w in toks
            ]
        n = len(toks)
        single = self._single
        multi = self._multi
        # A phrase shadows only its first word's own entries: "fire drill" is not a fire, but
        # "allocation" in "on allocation" still counts for the supply-chain category.
        for i, w in enumerate(toks):
            if not w:
                continue
            width = 1
            tags: tuple[Tag, ...] | None = None
            by_second = multi.get(w)
            if by_second is not None and i + 1 < n:
                for candidates in (by_second.get(toks[i + 1]), by_second.get("*")):
                    if candidates is None:
                        continue
                    for rest, phrase_tags in candidates:
                        k = len(rest)
                        if not k or toks[i + 2 : i + 2 + k] == rest:
                            tags = phrase_tags
                            width = k + 2
                            break
                    if tags is not None:
                        break
            if tags is None:
                tags = single.get(w)
            if tags is not None:
                self._apply(tags, i, width, toks, raw_low, raw_orig, result)
            if not w.isalpha():
                # Also after a hit: "LPDDR4X" is a component and a part number.
                self._oddity(w, i, toks, raw_orig, result)
        return result

    def _apply(
        self,
        tags: tuple[Tag, ...],
        i: int,
        width: int,
        toks: list[str],
        raw_low: list[str],
        raw_orig: list[str],
        result: Analysis,
    ) -> None:
        for tag in tags:
            kind = tag[0]
            if kind == EXACT:
                if raw_orig[i].strip(_PUNCT_COLON) != tag[1]:
                    continue
                tag = tag[2]
                kind = tag[0]
            if kind == VALENCE:
                self._sentiment(tag[1], i, toks, raw_low, result)
            elif kind == URGENCY:
                if tag[1] > result.urgency_rank and not _negated(i, toks, raw_low):
                    result.urgency_rank = tag[1]
            elif kind == CATEGORY:
                scores = result.category_scores
                scores[tag[1]] = scores.get(tag[1], 0) + tag[2]
            elif kind == CALM:
                result.calm = True
            elif kind == RESOLVED:
                result.resolved = True
            elif kind == COMPONENT:
                result.add_entity("components", tag[1])
            elif kind == SUPPLIER:
                result.add_entity("suppliers", tag[1])
            elif kind == CERTIFICATION:
                result.add_entity("certifications", tag[1])
            elif kind == STAGE:
                result.add_entity("build_stages", tag[1])
            elif kind == DATE:
                result.add_entity("dates", _span(raw_orig, i, width))
            elif kind == MONTH:
                if i + 1 < len(toks) and toks[i + 1][:1].isdigit() and len(toks[i + 1]) <= 4:
                    result.add_entity("dates", _span(raw_orig, i, 2))
            elif kind == BUT:
                # VADER: the clause before "but" counts half, the one after one and a half.
                result.valence *= 0.5
                result.after_but = True
            elif kind == CUSTOMER_TRIGGER:
                name = _name_after(raw_orig, i + 1)
                if name:
                    result.add_entity("customers", name)
            elif kind == CORP_SUFFIX:
                name = _name_before(raw_orig, i, links=_LINKS)
                if name:
                    result.add_entity("customers", name)
            elif kind == SUPPLIER_SUFFIX:
                name = _name_before(raw_orig, i, links=None)
                if name:
                    result.add_entity("suppliers", name)
            elif kind == KNOWN_CUSTOMER:
                result.add_entity("customers", tag[1])

    @staticmethod
    def _sentiment(
        valence: float, i: int, toks: list[str], raw_low: list[str], result: Analysis
    ) -> None:
        result.sentiment_hits = True
        if not valence:
            return
        for j in range(i - 1, max(-1, i - 4), -1):
            prev = toks[j]
            if raw_low[j][-1:] in _BOUNDARY:
                break
            boost = BOOSTER_DICT.get(prev)
            if boost is not None:
                scale = 1.0 if j == i - 1 else (0.95 if j == i - 2 else 0.9)
                valence += math.copysign(boost * scale, valence)
            elif prev in _NEGATIONS or prev.endswith("n't"):
                valence *= N_SCALAR
                break
        result.valence += valence * 1.5 if result.after_but else valence

    @staticmethod
    def _oddity(w: str, i: int, toks: list[str], raw_orig: list[str], result: Analysis) -> None:
        """Tokens with digits or symbols: numbers, amounts, dates, part numbers, URLs."""
        if "://" in w or w.startswith("www."):
            return
        first = w[0]
        if first.isdigit():
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if nxt in lx.QUANTITY_UNITS and _NUMBER_RE.fullmatch(w):
                result.add_entity("quantities", _span(raw_orig, i, 2))
            elif nxt in lx.CURRENCY_WORDS and _NUMBER_RE.fullmatch(w):
                result.add_entity("amounts", _span(raw_orig, i, 2))
                _bump(result, "financial", 1)
            elif nxt in ("weeks", "week", "wks", "wk") and w.isdigit():
                _lead_time(int(w), result)
            elif _ISO_DATE_RE.fullmatch(w):
                result.add_entity("dates", raw_orig[i].strip(_PUNCT))
            else:
                m = _WEEKS_RE.fullmatch(w)
                if m:
                    _lead_time(int(m.group(1)), result)
        elif first in _CURRENCY:
            if len(w) > 1 and w[1].isdigit():
                result.add_entity("amounts", raw_orig[i].strip(_PUNCT))
                _bump(result, "financial", 1)
        elif first == "w" and _WW_RE.fullmatch(w):
            result.add_entity("dates", raw_orig[i].strip(_PUNCT).upper())
            _bump(result, "schedule_launch", 1)
        elif len(w) >= 5:
            orig = raw_orig[i].strip(_PUNCT)
            if _PART_RE.fullmatch(orig) and not _NOT_PART_RE.match(orig.upper()):
                upper = orig.upper()
                if sum(c.isalpha() for c in upper) >= 2:
                    result.add_entity("parts", upper)


def _lead_time(weeks: int, result: Analysis) -> None:
    # "52 weeks" is usually a lead time; 40+ weeks is a supply risk by itself.
    if weeks >= 40:
        result.urgency_rank = max(result.urgency_rank, 2)
        _bump(result, "supply_chain", 1)


def _bump(result: Analysis, category: str, weight: int) -> None:
    result.category_scores[category] = result.category_scores.get(category, 0) + weight


def _negated(i: int, toks: list[str], raw_low: list[str]) -> bool:
    """A negation word within three words before ``i``, in the same sentence."""
    for j in range(i - 1, max(-1, i - 4), -1):
        if raw_low[j][-1:] in _BOUNDARY:
            return False
        prev = toks[j]
        if prev in _NEGATIONS or prev.endswith("n't"):
            return True
    return False


def _span(raw_orig: list[str], i: int, width: int) -> str:
    return " ".join(raw_orig[i : i + width]).strip(_PUNCT)


def _is_name_word(word: str) -> bool:
    return bool(word) and word[0].isupper() and word not in lx.NOT_NAMES


def _name_after(raw_orig: list[str], start: int) -> str:
    """Capitalized words (up to three) after a customer trigger, past one linking word."""
    words: list[str] = []
    j = start
    if j < len(raw_orig) and raw_orig[j].strip(_PUNCT_COLON).lower() in lx.CUSTOMER_LINKS:
        j += 1
    while j < len(raw_orig) and len(words) < 3:
        raw = raw_orig[j]
        word = raw.strip(_PUNCT_COLON)
        if not _is_name_word(word) or word in lx.NOT_NAMES:
            break
        words.append(word)
        if raw[-1:] in _PUNCT_COLON:
            break
        j += 1
    return " ".join(words)


def _name_before(raw_orig: list[str], i: int, *, links: frozenset[str] | None) -> str:
    """``Name [Name] Suffix``: capitalized words before a suffix word (``Acme Robotics``)."""
    words = [raw_orig[i].strip(_PUNCT)]
    j = i - 1
    while j >= 0 and len(words) < 4:
        raw = raw_orig[j]
        word = raw.strip(_PUNCT)
        if raw[-1:] in _PUNCT or not _is_name_word(word):
            break
        words.insert(0, word)
        j -= 1
    if len(words) < 2:
        return ""
    if links is not None and (j < 0 or raw_orig[j].lower() not in links):
        return ""
    return " ".join(words)


@cache
def default_analyzer() -> TextAnalyzer:
    """The process-wide analyzer (building the vocabulary takes ~0.1 s)."""
    return TextAnalyzer()


# How many recent texts' analyses are kept (an Analysis is about 1 KB). Enrichment reads a text,
# then risk scoring reads its category and its thread parent's in the same run: they share one scan.
ANALYSIS_CACHE_SIZE = 16_384


@lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def analysis_of(text: str) -> Analysis:
    """The default analyzer's scan of ``text``, remembered for recent texts; read-only."""
    return default_analyzer().analyze(text)


def compound(valence: float, text: str, hits: bool) -> float:
    """VADER's normalization of a summed valence to [-1, 1], with its exclamation emphasis."""
    if not hits or not valence:
        return 0.0
    bangs = min(text.count("!"), 4) * 0.292
    total = valence + math.copysign(bangs, valence)
    return max(-1.0, min(1.0, round(total / math.sqrt(total * total + 15.0), 4)))
