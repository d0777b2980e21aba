"""The hardware-GTM vocabulary behind urgency, category (words and channel hints), entities and
sentiment.

The phrase tables are data in ``digest_pipeline/vocabulary/lexicon.toml``; this module loads them
once under the names the analyzer reads. Phrases are lower-case words separated by spaces, with
two shorthands expanded by :func:`expand`: ``a/b`` is a choice at one position and ``(x)`` an
optional word; ``*`` matches any one word. Spellings in ``EXACT_*`` tables are matched with their
case (acronyms such as ``CE``, ``PO``, ``MP`` and names such as ``Flex`` are ordinary words in
lower case).
"""

from __future__ import annotations

import itertools

from digest_pipeline import vocabulary

_FILE = "lexicon"
_DATA = vocabulary.load(_FILE)


def _words(key: str) -> tuple[str, ...]:
    return vocabulary.words(_FILE, key)


def _spellings(key: str) -> dict[str, tuple[str, ...]]:
    table = _DATA.get(key)
    if not isinstance(table, dict):
        raise ValueError(f"vocabulary {_FILE}.toml: [{key}] is missing or not a table")
    return {canonical: vocabulary.words(_FILE, (key, canonical)) for canonical in table}


# --- urgency -------------------------------------------------------------------------------
CALM = _words("urgency.calm")
RESOLVED = vocabulary.words("slack", "resolution.phrases")
CRITICAL = _words("urgency.critical")
HIGH = _words("urgency.high")
MEDIUM = _words("urgency.medium")
EXACT_HIGH = _words("urgency.exact_high")
EXACT_CRITICAL = _words("urgency.exact_critical")
ALARM_REACTIONS = frozenset(_words("urgency.alarm_reactions"))
NEGATIONS = frozenset(vocabulary.words("slack", "negation.words"))

# --- categories: (strong wording weight 2, weak wording weight 1); exact acronyms weight 2 ---
CATEGORY_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    category: (_words(f"categories.{category}.strong"), _words(f"categories.{category}.weak"))
    for category in _DATA["categories"]
}
EXACT_CATEGORY: dict[str, tuple[str, ...]] = {
    category: _words(f"categories.{category}.exact") for category in _DATA["categories"]
}
# (channel-name fragment, category): a channel named for a topic leans to it; first match wins.
CHANNEL_HINTS = vocabulary.channel_hints()

# --- entity lexicons: canonical → spellings ------------------------------------------------
SUPPLIERS = _spellings("suppliers")
SUPPLIER_SUFFIXES = frozenset(_words("words.supplier_suffixes"))
COMPONENTS = _spellings("components")
CERTIFICATIONS = _spellings("certifications")
BUILD_STAGES = _spellings("build_stages")
EXACT_BUILD_STAGES = _spellings("exact_build_stages")
DATE_WORDS = _words("words.dates")
MONTHS = frozenset(_words("words.months"))
QUANTITY_UNITS = frozenset(_words("words.quantity_units"))
CURRENCY_WORDS = frozenset(_words("words.currency"))
CUSTOMER_TRIGGERS = frozenset(_words("words.customer_triggers"))
CUSTOMER_LINKS = frozenset(_words("words.customer_links"))
CORPORATE_SUFFIXES = frozenset(_words("words.corporate_suffixes"))
NOT_NAMES = frozenset(_words("words.not_names"))

# --- sentiment ------------------------------------------------------------------------------
DOMAIN_VALENCE: dict[str, float] = {
    word: float(value) for word, value in _DATA["sentiment"]["valence"].items()
}
NEUTRAL_WORDS = _words("sentiment.neutral")


def expand(phrase: str) -> list[str]:
    """All spellings of a phrase in the ``a/b`` (choice) and ``(x)`` (optional) shorthand."""
    slots: list[list[str]] = []
    for word in phrase.split():
        if word.startswith("(") and word.endswith(")"):
            slots.append(["", *word[1:-1].split("/")])
        else:
            slots.append(word.split("/") if "/" in word and len(word) > 2 else [word])
    return [" ".join(w for w in combo if w) for combo in itertools.product(*slots)]
