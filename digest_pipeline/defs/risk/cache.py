"""The LLM judgement cache: one row per (input hash, model, prompt version) in the warehouse.

``input_hash`` covers what the model sees for a message (its redacted text, the channel and the
parent's text), so re-running a partition or a backfill makes no calls for unchanged messages,
and an edited message (or a reply whose parent was edited) is the only one scored again. Only
successful LLM judgements are cached; fallbacks are not, so they are retried on the next run.
The table is a :class:`~digest_pipeline.defs.llm.cache.ResponseCache`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from digest_pipeline.defs.llm.cache import ResponseCache
from digest_pipeline.defs.risk.models import RiskAssessment
from digest_pipeline.defs.storage.warehouse import Warehouse

RISK_CACHE = ResponseCache.declared("risk_llm_cache")


def lookup(
    warehouse: Warehouse, hashes: Sequence[str], *, model: str, prompt_version: str
) -> dict[str, RiskAssessment]:
    """Cached judgements by input hash (empty before the first LLM run)."""
    rows = RISK_CACHE.lookup(warehouse, hashes, model=model, prompt_version=prompt_version)
    found: dict[str, RiskAssessment] = {}
    for row in rows.to_dict("records"):
        actions = row["mitigation_suggestions"]
        found[str(row["input_hash"])] = RiskAssessment(
            risk_level=row["risk_level"],
            risk_category=row["risk_category"],
            description=row["description"],
            confidence_score=float(row["confidence_score"]),
            mitigation_suggestions=json.loads(actions) if isinstance(actions, str) else actions,
            requires_attention=bool(row["requires_attention"]),
        )
    return found


def store(
    warehouse: Warehouse,
    judged: Mapping[str, tuple[str, RiskAssessment]],
    *,
    model: str,
    prompt_version: str,
) -> int:
    """Upsert ``{input_hash: (message_id, assessment)}``; returns rows written."""
    now = datetime.now(UTC)
    answers = [
        {
            "input_hash": input_hash,
            "message_id": message_id,
            "risk_level": a.risk_level,
            "risk_category": a.risk_category,
            "description": a.description,
            "confidence_score": float(a.confidence_score),
            "mitigation_suggestions": json.dumps(a.mitigation_suggestions),
            "requires_attention": bool(a.requires_attention),
            "scored_at": now,
        }
        for input_hash, (message_id, a) in judged.items()
    ]
    return RISK_CACHE.store(warehouse, answers, model=model, prompt_version=prompt_version)
