"""The words and patterns the pipeline reads Slack text with, loaded from the TOML files beside
this module (shipped as package data).

Each file is one reader's vocabulary: ``lexicon.toml`` (the enrichment's urgency, category,
entity and sentiment phrase tables and the channel hints: the one category vocabulary, which the
risk side reuses), ``risk_rules.toml`` (the rules scorer's signals and cues),
``impact.toml`` (the figures a digest ranks risks by), ``shape.toml`` (routine posts) and
``slack.toml`` (Slack's own words: message subtypes, broadcast mentions, acknowledgements).
Every file is read and checked once, on first use; a wrong value is a ``ValueError`` naming the
file and the entry. Patterns are written as TOML multi-line literal strings whose line breaks are
layout only: :func:`pattern` removes them (a pattern never contains a line break).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS

# Signals and channel hints name their level and category in the table contract's words.
CATEGORY_NAMES = frozenset(CATEGORIES) - {"none"}


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed ``<name>.toml`` of this package."""
    resource = files(__name__).joinpath(f"{name}.toml")  # __name__: this package
    try:
        return tomllib.loads(resource.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"vocabulary {name}.toml: {e}") from e


def pattern(text: str, fragments: dict[str, str] | None = None) -> str:
    """A pattern as written in a data file: line breaks removed, ``{NAME}`` fragments filled."""
    joined = text.replace("\n", "")
    for key, value in (fragments or {}).items():
        joined = joined.replace("{" + key + "}", value)
    return joined


def text(name: str, key: str) -> str:
    """One pattern of ``<name>.toml`` by its dotted key (``"negation.before_signal"``)."""
    *path, last = key.split(".")
    table = load(name)
    for part in path:
        table = table.get(part, {})
    value = table.get(last)
    if not isinstance(value, str):
        raise ValueError(f"vocabulary {name}.toml: {key} is missing or not a string")
    return pattern(value)


def _section(name: str, key: str) -> dict[str, Any]:
    value = load(name).get(key)
    if not isinstance(value, dict):
        raise ValueError(f"vocabulary {name}.toml: [{key}] is missing or not a table")
    return value


def patterns(name: str, key: str, fragments: dict[str, str] | None = None) -> dict[str, str]:
    """The ``[key]`` table of ``<name>.toml`` as name → pattern."""
    out: dict[str, str] = {}
    for entry, text in _section(name, key).items():
        if not isinstance(text, str):
            raise ValueError(f"vocabulary {name}.toml: [{key}] {entry} is not a string")
        out[entry] = pattern(text, fragments)
    return out


def words(name: str, key: str | tuple[str, ...]) -> tuple[str, ...]:
    """A list of strings: ``key`` is dotted (``"urgency.calm"``) or a path of table keys."""
    *path, last = key.split(".") if isinstance(key, str) else key
    table = load(name)
    for part in path:
        table = table.get(part, {})
    value = table.get(last)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"vocabulary {name}.toml: {key} is missing or not a list of strings")
    return tuple(value)


def word_set(name: str, key: str | tuple[str, ...]) -> frozenset[str]:
    return frozenset(words(name, key))


# --- the rules scorer's signals ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One risk signal: a pattern, the level it implies (``None``: graded by its numbers) and the
    category (``None``: the message's topic decides)."""

    name: str
    category: str | None
    level: int | None
    label: str
    pattern: str


def _signal(entry: dict[str, Any], fragments: dict[str, str]) -> SignalSpec:
    name = entry.get("name")
    where = f"vocabulary risk_rules.toml: signal {name!r}"
    category, level = entry.get("category"), entry.get("level")
    if category is not None and category not in CATEGORY_NAMES:
        raise ValueError(f"{where}: unknown category {category!r}")
    if level is not None and level not in LEVELS:
        raise ValueError(f"{where}: unknown level {level!r}")
    if not isinstance(name, str) or not isinstance(entry.get("label"), str):
        raise ValueError(f"{where}: name and label must be strings")
    if not isinstance(entry.get("pattern"), str):
        raise ValueError(f"{where}: pattern must be a string")
    return SignalSpec(
        name=name,
        category=category,
        level=None if level is None else LEVELS.index(level),
        label=entry["label"],
        pattern=pattern(entry["pattern"], fragments),
    )


@cache
def rule_signals() -> tuple[SignalSpec, ...]:
    """The rules scorer's signals, in order (a match consumes its text: order matters)."""
    fragments = patterns("risk_rules", "fragments")
    entries = load("risk_rules").get("signals")
    if not isinstance(entries, list) or not entries:
        raise ValueError("vocabulary risk_rules.toml: no [[signals]]")
    return tuple(_signal(entry, fragments) for entry in entries)


@cache
def channel_hints() -> tuple[tuple[str, str], ...]:
    """(channel-name fragment, category) pairs of ``lexicon.toml``, first match wins."""
    hints = load("lexicon").get("channels", {}).get("hints", [])
    for hint in hints:
        if len(hint) != 2 or hint[1] not in CATEGORY_NAMES:
            raise ValueError(f"vocabulary lexicon.toml: bad channel hint {hint!r}")
    return tuple((needle, category) for needle, category in hints)


# --- Slack's own words, shared by every reader (slack.toml) ---------------------------------

# Channel housekeeping subtypes (joins, topic changes, pins, ...): not conversation.
SKIPPED_SUBTYPES = word_set("slack", "subtypes.skipped")
# Subtypes that are ordinary conversation.
KEPT_SUBTYPES = word_set("slack", "subtypes.kept")
# ``@here``, ``@channel``, ``@everyone``.
BROADCAST_MENTIONS = word_set("slack", "mentions.broadcast")
# Words of a message that only acknowledges ("ok thanks", "lgtm").
ACKNOWLEDGEMENT_WORDS = word_set("slack", "acknowledgement.words")
