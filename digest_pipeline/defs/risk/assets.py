"""The ``risk_assessments`` asset: one business-risk judgement per message of the hour."""

from datetime import UTC, datetime
from typing import cast

import dagster as dg
import numpy as np
import pandas as pd

from digest_pipeline import contract
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.risk.resources import RiskScorer
from digest_pipeline.defs.risk.rules import score_frame
from digest_pipeline.defs.risk.scoring import RULES_SCORER, RULES_VERSION, Partition
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse

RISK = contract.table("risk_assessments", "asset")
RISK_SCHEMA = RISK.schema


def thread_contexts(messages: pd.DataFrame, warehouse: Warehouse | None) -> pd.Series:
    """The parent's text for each reply: from this partition, else from earlier hours."""
    if messages.empty:
        return pd.Series([], dtype=object)
    parent_ids = messages["parent_id"].where(messages["is_reply"].astype(bool))
    known = dict(zip(messages["id"], messages["content"], strict=True))
    missing = sorted({p for p in parent_ids.dropna() if p not in known})
    if missing and warehouse is not None and warehouse.table_exists("messages"):
        found = warehouse.query(
            "SELECT id, content FROM {schema}.messages WHERE id IN (SELECT unnest(?))",
            [missing],
        )
        known.update(zip(found["id"], found["content"], strict=True))
    # pandas is untyped here: Series.map gives a Series.
    return cast(pd.Series, parent_ids.map(lambda p: known.get(p) if isinstance(p, str) else None))


def assess_messages(messages: pd.DataFrame, contexts: pd.Series) -> pd.DataFrame:
    """Rules assessments for ``messages``, in the contract's shape, plus each message's
    ``message_category`` (the risk categories derive from it; not stored)."""
    if messages.empty:
        return pd.DataFrame(columns=pd.Index([*column_names(RISK_SCHEMA), "message_category"]))
    scored = score_frame(
        pd.DataFrame(
            {
                "id": messages["id"].to_numpy(),
                "content": messages["content"].to_numpy(),
                "channel": messages["channel"].to_numpy(),
                "thread_context": contexts.to_numpy(),
            }
        )
    )
    now = datetime.now(UTC)
    frame = pd.DataFrame(
        {
            "id": "risk:" + messages["id"].to_numpy(),
            "message_id": messages["id"].to_numpy(),
            "channel_id": messages["channel_id"].to_numpy(),
            "message_timestamp": messages["timestamp"].to_numpy(),
            "risk_level": scored["risk_level"].to_numpy(),
            "risk_category": scored["risk_category"].to_numpy(),
            "description": scored["description"].to_numpy(),
            "confidence_score": scored["confidence_score"].astype(float).to_numpy(),
            "mitigation_suggestions": scored["mitigation_suggestions"].to_numpy(),
            "requires_attention": scored["requires_attention"].astype(bool).to_numpy(),
            "created_at": now,
            "scorer": RULES_SCORER,
            "model": RULES_VERSION,
            "prompt_version": RULES_VERSION,
            "needs_rescore": False,
            "content_hash": messages["content_hash"].to_numpy(),
            "rules_risk_level": scored["risk_level"].to_numpy(),
            "llm_risk_level": None,
            "model_version": RULES_VERSION,
            "model_risk_level": None,
            "risk_probability": np.nan,
            "judgement": "rules",
            "fallback_reason": None,
            # Not stored: what every scorer's risk_category derives from (rules.score_frame).
            "message_category": scored["message_category"].to_numpy(),
        }
    )
    frame["message_timestamp"] = pd.to_datetime(frame["message_timestamp"], utc=True)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    # pandas is untyped here: columns select a frame.
    return cast(pd.DataFrame, frame[[*column_names(RISK_SCHEMA), "message_category"]])


@dg.asset(
    group_name="score",
    kinds={"python", "scikitlearn", "openai", "duckdb"},
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="openai",
    deps=["risk_model"],
    description=(
        "One risk assessment per message: level, category, one-line description, confidence, "
        "mitigations and whether someone must act. Replies are read with their parent. The "
        "learned risk model (risk_model) judges every message; with an OpenAI key the LLM also "
        "judges what the model is not confidently low on, in thread batches, cached by input. "
        "model_version says which model scored each row: a new model scores new hours only; "
        "re-scoring old hours is a backfill."
    ),
    metadata=RISK.asset_metadata(),
)
def risk_assessments(
    context: dg.AssetExecutionContext,
    messages: pd.DataFrame,
    warehouse: Warehouse,
    risk_scorer: RiskScorer,
    risk_model_store: RiskModelStore,
    llm: LLMResource,
) -> pd.DataFrame:
    contexts = thread_contexts(messages, warehouse)
    rules = assess_messages(messages, contexts)
    scored = risk_scorer.assess(
        Partition(context, messages, contexts, rules, warehouse, risk_model_store, llm)
    )
    # pandas is untyped here: columns select a frame.
    frame = cast(pd.DataFrame, scored.frame[column_names(RISK_SCHEMA)])
    levels = frame["risk_level"].value_counts().to_dict() if len(frame) else {}
    judgements = frame["judgement"].value_counts().to_dict() if len(frame) else {}
    context.add_output_metadata(
        {
            "assessments": len(frame),
            "scorer": risk_scorer.kind,
            "model_version": scored.version,
            "by_level": {k: int(levels.get(k, 0)) for k in ("low", "medium", "high", "critical")},
            "by_judgement": {str(k): int(v) for k, v in judgements.items()},
            "requires_attention": int(frame["requires_attention"].sum()) if len(frame) else 0,
            "needs_rescore": int(frame["needs_rescore"].sum()) if len(frame) else 0,
            **scored.metadata,
        }
    )
    return frame
