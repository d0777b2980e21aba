"""Hardware go-to-market entities in message text: lexicons and a few token regexes, no models.

Each kind is a list of distinct strings in order of appearance. Lexicon hits are canonical
(``TI`` → ``Texas Instruments``, ``mlcc`` → ``capacitor``, ``CE marking`` → ``CE``) so analysts
can group on them; parts are upper-cased; dates, quantities, amounts and customers keep the text
as written. Suppliers and certifications that are ordinary words in lower case (``Flex``,
``ST``, ``CE``, ``UL``) only match with their capitals.

Part numbers are tokens of upper-case letters and digits with at least two letters and one
digit (``TPS65219``, ``STM32H743VIT6``, ``LPDDR4X``), or lower-case ones with two letters then
three digits (``tps65219``); build stages, work weeks, quarters, revisions, standards
(``USB3``, ``ISO9001``) and plain numbers are not parts. Customers are capitalized names after
"customer"/"client"/"account"/"OEM", or ``Name … Inc/Robotics/Health…`` after for/at/from/with,
or any name given to :class:`TextAnalyzer` as ``known_customers``.
"""

from __future__ import annotations

from digest_pipeline.defs.enrichment.analyzer import (
    ENTITY_KINDS,
    Analysis,
    TextAnalyzer,
    default_analyzer,
)

__all__ = ["ENTITY_KINDS", "TextAnalyzer", "entities_of", "extract_entities"]


def entities_of(analysis: Analysis) -> dict[str, list[str]]:
    """All kinds of :data:`ENTITY_KINDS` (empty lists when absent), in that order."""
    found = analysis.entities
    return {kind: found.get(kind, []) for kind in ENTITY_KINDS}


def extract_entities(text: str) -> dict[str, list[str]]:
    """Entities of one cleaned text."""
    return entities_of(default_analyzer().analyze(text))
