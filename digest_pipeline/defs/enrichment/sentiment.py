"""Sentiment in [-1, 1]: VADER's lexicon and main rules, in the shared token scan.

Why not ``SentimentIntensityAnalyzer.polarity_scores`` itself: on this project's machines it
runs at about 25k short messages/s, which alone would use the whole enrichment budget
(≥ 50k messages/s). The scan in :mod:`analyzer` keeps what carries most of VADER's signal — its
lexicon, negation (x -0.74 within three words), boosters and dampeners, "but" (the clause before
counts half, the one after one and a half), exclamation marks, and the normalization
``s / sqrt(s² + 15)`` — and drops ALL-CAPS emphasis and idiom special cases. Its sign agrees
with VADER on ordinary text (tested).

VADER was tuned on social media, where "shortage", "slipped", "EOL" or "line down" are neutral
and "critical", "yield", "cell" carry mood; :data:`lexicon.DOMAIN_VALENCE` and
:data:`lexicon.NEUTRAL_WORDS` correct that for a hardware company.
"""

from __future__ import annotations

from digest_pipeline.defs.enrichment.analyzer import Analysis, compound, default_analyzer


def sentiment_of(analysis: Analysis, text: str) -> float:
    """Compound sentiment from a scan of ``text``."""
    return compound(analysis.valence, text, analysis.sentiment_hits)


def sentiment_score(text: str) -> float:
    """Compound sentiment of ``text`` in [-1, 1]; 0.0 for empty or neutral text."""
    return sentiment_of(default_analyzer().analyze(text), text)
