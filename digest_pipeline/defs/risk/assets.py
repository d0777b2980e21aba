"""The ``risk_assessments`` asset: one business-risk judgement per message of the hour."""

import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import numpy as np
import openai
import pandas as pd

from digest_pipeline.defs.enrichment.enrich import user_directory
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.risk import batch, cache
from digest_pipeline.defs.risk.llm import (
    LLMItem,
    LLMOutcome,
    LLMRiskScorer,
    Provenance,
    combine,
    input_hash,
    pack_requests,
    prepare_text,
)
from digest_pipeline.defs.risk.model import Predictions, RiskModel
from digest_pipeline.defs.risk.prompt import PROMPT_VERSION
from digest_pipeline.defs.risk.resources import COLLECT_TAG, RiskScorer
from digest_pipeline.defs.risk.rules import score_frame
from digest_pipeline.defs.risk.scoring import model_assessments
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.storage.schema import column_names, table_schema
from digest_pipeline.defs.storage.warehouse import Warehouse

RULES_SCORER = "rules"
RULES_VERSION = "rules-v1"

RISK_SCHEMA = table_schema(
    ("id", "VARCHAR", "'risk:' followed by the message ID (key)"),
    ("message_id", "VARCHAR", "messages.id of the assessed message"),
    ("channel_id", "VARCHAR", "Slack channel ID"),
    ("message_timestamp", "TIMESTAMPTZ", "When the message was posted; the partition column"),
    ("risk_level", "VARCHAR", "low, medium, high or critical"),
    ("risk_category", "VARCHAR", "Hardware-GTM category or none"),
    ("description", "VARCHAR", "One-line description of the risk"),
    ("confidence_score", "DOUBLE", "Confidence in [0, 1]"),
    ("mitigation_suggestions", "JSON", "Suggested actions from the category playbook"),
    ("requires_attention", "BOOLEAN", "Someone should act on this"),
    ("created_at", "TIMESTAMPTZ", "When this assessment was made"),
    ("scorer", "VARCHAR", "model, llm or rules: which judgement won"),
    ("model", "VARCHAR", "Risk model version, LLM model, or the rules version"),
    ("prompt_version", "VARCHAR", "Prompt version (LLM) or rules version; null for the model"),
    ("needs_rescore", "BOOLEAN", "Fell back from the LLM: re-scored on the next run"),
    ("content_hash", "VARCHAR", "sha256 of the assessed text"),
    ("rules_risk_level", "VARCHAR", "The rules scorer's level (always computed)"),
    ("llm_risk_level", "VARCHAR", "The LLM's level, when it answered (else null)"),
    ("model_version", "VARCHAR", "Risk model that scored the row (rm-…), or the rules version"),
    ("model_risk_level", "VARCHAR", "The risk model's level (null under DIGEST_SCORER=rules)"),
    ("risk_probability", "DOUBLE", "The risk model's calibrated P(level >= high)"),
    (
        "judgement",
        "VARCHAR",
        "Which judgement won: model (risk model), rules (DIGEST_SCORER=rules), triage (the model "
        "is confident it is low: no LLM call), llm, model_floor (the model's confident critical "
        "kept at high over a lower LLM answer), fallback (LLM failed: the model's row)",
    ),
    ("fallback_reason", "VARCHAR", "Why the LLM failed (timeout, refusal, budget, ...), else null"),
)


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
    return parent_ids.map(lambda p: known.get(p) if isinstance(p, str) else None)


def assess_messages(messages: pd.DataFrame, contexts: pd.Series) -> pd.DataFrame:
    """Rules assessments for ``messages``, in the contract's shape."""
    if messages.empty:
        return pd.DataFrame(columns=column_names(RISK_SCHEMA))
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
        }
    )
    frame["message_timestamp"] = pd.to_datetime(frame["message_timestamp"], utc=True)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame[column_names(RISK_SCHEMA)]


def names_to_ids(users: pd.DataFrame) -> list[tuple[str, str]]:
    """(shown name, user ID) pairs of ``slack_users``, longest name first, to send mentions as
    IDs."""
    names, _ = user_directory(users)
    pairs = [(name, user_id) for user_id, name in names.items() if name and name != user_id]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def user_names(warehouse: Warehouse | None) -> list[tuple[str, str]]:
    """:func:`names_to_ids` of the warehouse's ``slack_users`` (none before the first run)."""
    if warehouse is None or not warehouse.table_exists("slack_users"):
        return []
    return names_to_ids(warehouse.query("SELECT * FROM {schema}.slack_users"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def llm_items(
    messages: pd.DataFrame,
    contexts: pd.Series,
    skip: Collection[str],
    names_to_ids: list[tuple[str, str]],
) -> tuple[list[LLMItem], list[str], dict[str, str]]:
    """(items to judge, triaged message IDs, input hash by message ID); ``skip``: the message
    IDs the risk model is confident are low (no call)."""
    items: list[LLMItem] = []
    triaged: list[str] = []
    hashes: dict[str, str] = {}
    authors = dict(zip(messages["id"], messages["user_id"], strict=True))
    for message_id, content, channel, user_id, is_reply, parent_id, parent_text in zip(
        messages["id"].tolist(),
        messages["content"].tolist(),
        messages["channel"].tolist(),
        messages["user_id"].tolist(),
        messages["is_reply"].astype(bool).tolist(),
        messages["parent_id"].tolist(),
        contexts.tolist(),
        strict=True,
    ):
        text = _text(content) or ""
        if message_id in skip:
            triaged.append(message_id)
            continue
        thread_id = parent_id if is_reply and isinstance(parent_id, str) else message_id
        sent_parent = (
            prepare_text(parent_text, names_to_ids)
            if thread_id != message_id and isinstance(parent_text, str)
            else None
        )
        item = LLMItem(
            message_id=message_id,
            thread_id=thread_id,
            channel=_text(channel),
            author=_text(user_id),
            text=prepare_text(text, names_to_ids),
            parent_text=sent_parent,
            parent_author=_text(authors.get(thread_id)) if sent_parent is not None else None,
        )
        items.append(item)
        hashes[message_id] = input_hash(item.text, item.channel, item.parent_text)
    return items, triaged, hashes


def score_with_llm(
    context: dg.AssetExecutionContext,
    messages: pd.DataFrame,
    contexts: pd.Series,
    base: pd.DataFrame,
    predictions: Predictions,
    model: RiskModel,
    risk_scorer: RiskScorer,
    warehouse: Warehouse,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The model everywhere, then the LLM for what the model is not sure is low (not cached):
    live calls, or a Batch API submission whose answers a later run reads from the cache."""
    config = risk_scorer.llm_config()
    mode = risk_scorer.run_mode(context.run.tags)
    ids = base["message_id"].tolist()
    confident_low = model.llm_skip(messages["content"].tolist(), predictions)
    skip = {m for m, s in zip(ids, confident_low.tolist(), strict=True) if s}
    floor = {m for m, f in zip(ids, predictions.critical_floor.tolist(), strict=True) if f}
    items, triaged, hashes = llm_items(messages, contexts, skip, user_names(warehouse))
    cached = cache.lookup(
        warehouse, list(hashes.values()), model=config.model, prompt_version=config.prompt_version
    )
    judged = {m: cached[h] for m, h in hashes.items() if h in cached}
    todo = [item for item in items if item.message_id not in judged]
    began = time.perf_counter()
    outcome = LLMOutcome()
    batch_meta: dict[str, Any] = {}
    if todo and mode == "sync":
        with risk_scorer.client(context) as client:
            outcome = LLMRiskScorer(client, config).score(todo)
    elif todo:
        outcome, batch_meta = _batch_mode(context, todo, hashes, mode, risk_scorer, warehouse)
    seconds = time.perf_counter() - began
    judged.update(outcome.results)
    cache.store(
        warehouse,
        {hashes[m]: (m, a) for m, a in outcome.results.items()},
        model=config.model,
        prompt_version=config.prompt_version,
    )
    if outcome.stopped:
        context.log.error(
            "LLM calls stopped early (%s): the remaining messages got the risk model's assessment "
            "and are marked for re-scoring",
            outcome.stopped,
        )
    frame = combine(
        base,
        judged,
        outcome.failures,
        triaged,
        floor=floor,
        llm_provenance=Provenance("llm", config.model, config.prompt_version),
    )
    metadata: dict[str, Any] = {
        "llm_model": config.model,
        "llm_mode": mode,
        **batch_meta,
        "prompt_version": PROMPT_VERSION,
        "triaged": len(triaged),
        "sent_to_llm_share": round(len(items) / len(ids), 4) if ids else 0.0,
        "cache_hits": len(items) - len(todo),
        "llm_scored": len(outcome.results),
        "fallbacks": len(outcome.failures),
        "fallback_reasons": outcome.failure_counts,
        "llm_stopped": outcome.stopped or "",
        "llm_seconds": round(seconds, 2),
        **outcome.usage.as_metadata(config.model, batch=config.batch_api),
    }
    return frame, metadata


def _batch_mode(
    context: dg.AssetExecutionContext,
    todo: list[LLMItem],
    hashes: dict[str, str],
    mode: str,
    risk_scorer: RiskScorer,
    warehouse: Warehouse,
) -> tuple[LLMOutcome, dict[str, Any]]:
    """Batch API: submit what no open batch already holds (``batch``), or, in a run the batch
    sensor requested (``collect``), mark what the batch did not answer. No live call either way;
    every row not in the cache keeps the model's verdict, marked for re-scoring."""
    config = risk_scorer.llm_config()
    outcome = LLMOutcome()
    if mode == "collect":
        reasons, other = batch.batch_reasons(warehouse, context.run.tags[COLLECT_TAG])
        outcome.failures.update(
            {item.message_id: reasons.get(hashes[item.message_id], other) for item in todo}
        )
        return outcome, {"llm_batch_collected": context.run.tags[COLLECT_TAG]}
    waiting = batch.pending_hashes(warehouse, config)
    new = [item for item in todo if hashes[item.message_id] not in waiting]
    outcome.failures.update({item.message_id: "batch_pending" for item in todo})
    meta: dict[str, Any] = {
        "llm_batch_pending": len(todo),
        "llm_batch_already_open": len(todo) - len(new),
    }
    if not new:
        return outcome, meta
    packed = pack_requests(new, config)
    partition_range = context.partition_key_range  # one hour or a backfill's range alike
    partitions = (partition_range.start, partition_range.end)
    try:
        with risk_scorer.client(context) as client:
            submitted = batch.submit(
                client.with_options(max_retries=2),
                warehouse,
                packed,
                {item.message_id: hashes[item.message_id] for item in new},
                config,
                partitions=partitions,
                deadline_hours=risk_scorer.batch_deadline_hours,
            )
    except openai.OpenAIError as e:
        context.log.error(
            f"Batch API submission failed ({type(e).__name__}): rows stay on the model"
        )
        outcome.failures.update({item.message_id: "batch_submit_failed" for item in new})
        return outcome, meta | {"llm_batch_submit_error": type(e).__name__}
    context.log.info(
        f"submitted {submitted.requests} request(s) for {submitted.messages} message(s) to the "
        f"Batch API: {', '.join(submitted.batch_ids)}; llm_batch_sensor re-runs "
        f"{partitions[0]}..{partitions[1]} when the answers arrive"
    )
    return outcome, meta | {
        "llm_batch_ids": submitted.batch_ids,
        "llm_batch_requests": submitted.requests,
        "llm_batch_submitted": submitted.messages,
    }


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
    metadata={"partition_expr": "message_timestamp", "dagster/column_schema": RISK_SCHEMA},
)
def risk_assessments(
    context: dg.AssetExecutionContext,
    messages: pd.DataFrame,
    warehouse: Warehouse,
    risk_scorer: RiskScorer,
    risk_model_store: RiskModelStore,
) -> pd.DataFrame:
    contexts = thread_contexts(messages, warehouse)
    frame = assess_messages(messages, contexts)
    extra: dict[str, Any] = {}
    version = RULES_VERSION
    if risk_scorer.uses_model and len(frame):
        model = risk_model_store.current(context.log)
        version = model.version
        frame, predictions = model_assessments(
            frame, messages["content"].tolist(), contexts.tolist(), model
        )
        if risk_scorer.uses_llm:
            frame, extra = score_with_llm(
                context, messages, contexts, frame, predictions, model, risk_scorer, warehouse
            )
    frame = frame[column_names(RISK_SCHEMA)]
    levels = frame["risk_level"].value_counts().to_dict() if len(frame) else {}
    judgements = frame["judgement"].value_counts().to_dict() if len(frame) else {}
    context.add_output_metadata(
        {
            "assessments": len(frame),
            "scorer": risk_scorer.kind,
            "model_version": version,
            "by_level": {k: int(levels.get(k, 0)) for k in ("low", "medium", "high", "critical")},
            "by_judgement": {str(k): int(v) for k, v in judgements.items()},
            "requires_attention": int(frame["requires_attention"].sum()) if len(frame) else 0,
            "needs_rescore": int(frame["needs_rescore"].sum()) if len(frame) else 0,
            **extra,
        }
    )
    return frame
