"""Rules for ``urgency``, ``category`` and ``priority_level`` of a message.

This is the pipeline's one category engine: ``messages.category`` is :func:`category_of` the
message's words and channel, and ``risk_assessments.risk_category`` derives from it
(:func:`~digest_pipeline.defs.risk.signals.risk_category`). Risk scoring may hand the engine the
risk model's category scores as a ``prior``; enrichment never does (see :func:`category_of`).

The wording lives in :mod:`digest_pipeline.defs.enrichment.lexicon`; the scan that finds it in
:mod:`digest_pipeline.defs.enrichment.analyzer`. This module turns what the scan found into
column values.

Urgency is negation-aware: a trigger preceded within three words (same sentence) by "no",
"not", "never", "without"… does not count ("not urgent", "no shortage after all"). Calm wording
("no rush", "fire drill", "whenever") lowers the level by one and caps it at medium; resolution
wording ("line is back up", "resolved", "false alarm") lowers it by two. A message whose whole
shape is routine — a cross-post, an FYI or no-action note, a status post whose items are all green
(:mod:`~digest_pipeline.defs.enrichment.shape`) — is low, whatever its words, unless it also
asks for action outright ("need answer by EOD"): it may still carry risk, but asks nobody to act.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS
from digest_pipeline.defs.enrichment.analyzer import Analysis, analysis_of
from digest_pipeline.defs.enrichment.lexicon import ALARM_REACTIONS, CHANNEL_HINTS
from digest_pipeline.vocabulary import BROADCAST_MENTIONS

# Schedule and customer wording usually describes a consequence; see :func:`category_of`.
CONSEQUENCE_CATEGORIES = frozenset({"schedule_launch", "customer_commercial"})
_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}
# A channel named for a topic weighs as much as one strong word of it.
CHANNEL_WEIGHT = 2
_BASE_PRIORITY = {"low": 1, "medium": 3, "high": 4, "critical": 5}
# With a prior (:func:`category_of`): one unit of model score weighs as much as four strong words,
# a channel named for a topic as three, a thread parent's word half its own weight. Chosen on the
# design label sets (demo, labeled, part-a, part-b), with and without topic-named channels.
PRIOR_WEIGHT = 8.0
PRIOR_CHANNEL_WEIGHT = 6.0
PRIOR_PARENT_WEIGHT = 0.5


def urgency_of(
    analysis: Analysis, *, mentions: Sequence[str] = (), reactions: Iterable[str] = ()
) -> str:
    """One of :data:`LEVELS` from a scan, @here/@channel mentions and alarm reactions."""
    boosts = 0
    if mentions and not BROADCAST_MENTIONS.isdisjoint(mentions):
        boosts += 1
    if reactions and not ALARM_REACTIONS.isdisjoint(reactions):
        boosts += 1
    routine = analysis.routine
    # A routine post asks nobody to act, unless it asks outright, or it is an FYI someone
    # broadcast or flagged ("@here FYI: line 2 is down") without saying nobody has to act.
    alarmed_fyi = routine is not None and routine.kind == "fyi" and not routine.no_action and boosts
    if routine is not None and not routine.asks and not alarmed_fyi:
        return LEVELS[0]
    score = analysis.urgency_rank
    if boosts:
        # Attention signals raise a level but alone never reach critical, except when a
        # high-wording message is both broadcast and flagged with alarm reactions.
        score = 3 if score == 2 and boosts == 2 else max(score, min(score + 1, 2))
    # An FYI that asks outright ("fyi … can someone call asap?") is not calmed by its "fyi".
    if analysis.calm and analysis.routine is None:
        score = max(0, min(score, 2) - 1)
    if analysis.resolved:
        score = max(0, score - 2)
    return LEVELS[score]


@lru_cache(maxsize=4096)
def channel_category(channel: str | None) -> str | None:
    """The category a channel's name leans to (``#supply-chain``, ``#npi-launch``), if any."""
    if not channel:
        return None
    name = channel.lower()
    for needle, category_name in CHANNEL_HINTS:
        if needle in name:
            return category_name
    return None


def category_of(
    analysis: Analysis,
    channel: str | None = None,
    *,
    prior: Mapping[str, float] | None = None,
    parent: Analysis | None = None,
) -> str:
    """The most-weighted topic of a message posted in ``channel``; ties go to the channel's
    category, then to the earlier category in the taxonomy.

    ``prior`` is optional evidence: the risk model's score for each category (risk scoring
    passes it for risky messages; enrichment passes none). With a prior, the category is the
    one of the prior's with the highest total of its word weight in the message, half its word
    weight in the thread ``parent``, :data:`PRIOR_CHANNEL_WEIGHT` if the channel is named for it,
    and :data:`PRIOR_WEIGHT` times its score minus the best score (0 for the model's own pick).
    The model's pick stands unless the words or the channel name another topic clearly enough
    to make up the gap; where channels name no topic the model, which reads the whole text,
    carries what a few words would get wrong.

    Without a prior:

    A channel named for a topic (:func:`channel_category`) counts as one strong word of it. When
    a cause category (supply, manufacturing, certification, logistics, engineering, financial)
    has strong wording, it wins over schedule and customer wording, so "DVT slips because the
    PMIC is on allocation" is supply chain, except in a channel named for that consequence (in
    ``#npi-launch`` the slip is the launch team's). Weak wording alone ("the line", "a test")
    must add up to 2 to count.
    """
    hint = channel_category(channel)
    if prior:
        return _with_prior(analysis, hint, prior, parent)
    scores = analysis.category_scores
    if hint is not None:
        scores = {**scores, hint: scores.get(hint, 0) + CHANNEL_WEIGHT}
    if not scores:
        return "none"
    candidates = scores
    if hint not in CONSEQUENCE_CATEGORIES and not CONSEQUENCE_CATEGORIES.isdisjoint(scores):
        causes = {c: s for c, s in scores.items() if c not in CONSEQUENCE_CATEGORIES and s >= 2}
        if causes:
            candidates = causes
    best, weight = max(
        candidates.items(), key=lambda kv: (kv[1], kv[0] == hint, -_CATEGORY_ORDER[kv[0]])
    )
    return best if weight >= 2 else "none"


def _with_prior(
    analysis: Analysis, hint: str | None, prior: Mapping[str, float], parent: Analysis | None
) -> str:
    """:func:`category_of` with the model's category scores (see there)."""
    best = max(prior.values())
    own = analysis.category_scores
    inherited = parent.category_scores if parent is not None else {}

    def total(name: str) -> float:
        return (
            own.get(name, 0)
            + PRIOR_PARENT_WEIGHT * inherited.get(name, 0)
            + (PRIOR_CHANNEL_WEIGHT if name == hint else 0.0)
            + PRIOR_WEIGHT * (prior[name] - best)
        )

    return max(prior, key=lambda name: (total(name), -_CATEGORY_ORDER.get(name, len(CATEGORIES))))


def urgency(text: str, *, mentions: Sequence[str] = (), reactions: Iterable[str] = ()) -> str:
    """Urgency level of a cleaned message text."""
    return urgency_of(analysis_of(text), mentions=mentions, reactions=reactions)


def category(text: str, channel: str | None = None) -> str:
    """Category of a cleaned message text posted in ``channel`` (one of :data:`CATEGORIES`):
    the value of ``messages.category``."""
    return category_of(analysis_of(text), channel)


def thread_category(
    text: str,
    channel: str | None,
    parent_text: str | None = None,
    prior: Mapping[str, float] | None = None,
) -> str:
    """A message's category, or, when it names none, its thread parent's (read in the same
    channel): "same here, 3 more units" is about what the parent was about. With a ``prior``
    (:func:`category_of`) the parent's words are weighed with the message's."""
    if prior:
        parent = analysis_of(parent_text) if parent_text else None
        return category_of(analysis_of(text), channel, prior=prior, parent=parent)
    own = category(text, channel)
    if own == "none" and parent_text:
        return category(parent_text, channel)
    return own


def priority_level(
    urgency_level: str,
    category_name: str,
    *,
    mentions: Sequence[str] = (),
    reaction_count: int = 0,
    reply_count: int = 0,
) -> int:
    """1 (ignore) … 5 (act now).

    Urgency sets the base (low 1, medium 3, high 4, critical 5). A low-urgency message on a
    business topic is 2, so it ranks above chatter; a medium one with no topic drops to 2.
    ``category_name`` is the topic the words name (:func:`category_of` without the channel):
    "Morning all" in ``#supply-chain`` is in the channel's category but is still chatter.
    Engagement — a broadcast mention, five or more reactions, or five or more replies — adds one
    to levels below 4: the team itself is saying it matters.
    """
    level = _BASE_PRIORITY.get(urgency_level, 1)
    has_topic = category_name != "none"
    if urgency_level == "low" and has_topic:
        level = 2
    elif urgency_level == "medium" and not has_topic:
        level = 2
    if level < 4 and (
        reaction_count >= 5
        or reply_count >= 5
        or (mentions and not BROADCAST_MENTIONS.isdisjoint(mentions))
    ):
        level += 1
    return min(5, max(1, level))
