"""Shared vocabularies: the enumerations in the table contract.

Both the message enrichment (``messages.category``, ``messages.urgency``) and the risk scorers
(``risk_assessments.risk_category``, ``risk_assessments.risk_level``) use these names, so analysts
can join and filter on one vocabulary.
"""

from __future__ import annotations

from typing import Literal, get_args

Level = Literal["low", "medium", "high", "critical"]
LEVELS: tuple[str, ...] = get_args(Level)
LEVEL_RANK: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}

Category = Literal[
    "supply_chain",
    "manufacturing_quality",
    "certification_compliance",
    "schedule_launch",
    "customer_commercial",
    "logistics",
    "engineering_design",
    "financial",
    "none",
]
CATEGORIES: tuple[str, ...] = get_args(Category)

CATEGORY_LABELS: dict[str, str] = {
    "supply_chain": "Supply chain",
    "manufacturing_quality": "Manufacturing / quality",
    "certification_compliance": "Certification / compliance",
    "schedule_launch": "Schedule / launch",
    "customer_commercial": "Customer / commercial",
    "logistics": "Logistics",
    "engineering_design": "Engineering / design",
    "financial": "Financial",
    "none": "None",
}

# message_type values in the ``messages`` table.
MessageType = Literal["message", "reply", "broadcast", "bot"]
MESSAGE_TYPES: tuple[str, ...] = get_args(MessageType)

# Verdicts a reaction to a digest line gives (``risk_feedback.verdict``, besides a level): not a
# risk, more serious than shown, resolved.
ReactionVerdict = Literal["not_a_risk", "more_serious", "resolved"]
REACTION_VERDICTS: tuple[str, ...] = get_args(ReactionVerdict)
# The reactions a digest line offers by default (``DIGEST_FEEDBACK_REACTIONS`` overrides them).
DEFAULT_REACTIONS: dict[str, str] = {
    "x": "not_a_risk",
    "arrow_up": "more_serious",
    "white_check_mark": "resolved",
}
