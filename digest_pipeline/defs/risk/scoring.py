"""A partition's verdicts: the learned model's (with the rules as its explanation), then the
LLM's where the model is not confidently low (:func:`score_with_llm`).

The model decides level, attention and confidence. The category is the message's own
(``messages.category``'s engine, read with the thread parent; see
:func:`~digest_pipeline.defs.risk.signals.risk_category`); for a message the model finds risky
the engine also weighs the model's category scores as a prior
(:func:`~digest_pipeline.defs.enrichment.classify.category_of`), so the category holds up in
workspaces whose channel names name no topic. The LLM's category counts only for a risky message
that names none. The rules scorer still reads every message, but only to
*explain*: when it found a signal, its description (with the figures it extracted: "lead time
12 → 52 weeks", "yield 81% vs 97% target") describes the row; when it found none, the description
names the row's category and the message's subject.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import numpy as np
import openai
import pandas as pd

from digest_pipeline.contract.enumerations import CATEGORY_LABELS
from digest_pipeline.defs.enrichment.classify import thread_category
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.llm.text import input_hash, prepare_text, user_names
from digest_pipeline.defs.risk import batch, cache
from digest_pipeline.defs.risk.batch import COLLECT_TAG
from digest_pipeline.defs.risk.llm import (
    LLMConfig,
    LLMItem,
    LLMOutcome,
    LLMRiskScorer,
    Provenance,
    combine,
    pack_requests,
)
from digest_pipeline.defs.risk.model import Predictions, RiskModel
from digest_pipeline.defs.risk.models import one_line
from digest_pipeline.defs.risk.playbook import mitigations
from digest_pipeline.defs.risk.prompt import PROMPT_VERSION
from digest_pipeline.defs.risk.rules import NO_RISK_DESCRIPTION, subject_of
from digest_pipeline.defs.risk.signals import risk_category
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.storage.warehouse import Warehouse

MODEL_SCORER = "model"
RULES_SCORER = "rules"
RULES_VERSION = "rules-v1"


@dataclass(frozen=True)
class Partition:
    """What a scorer judges: the partition's ``messages``, their parents' texts (``contexts``),
    the rules' rows for them (the contract's shape, one per message, same order), where the
    scorer reads its model and caches, and the LLM it may call."""

    context: dg.AssetExecutionContext
    messages: pd.DataFrame
    contexts: pd.Series
    rules: pd.DataFrame
    warehouse: Warehouse
    model_store: RiskModelStore
    llm: LLMResource


@dataclass(frozen=True)
class Scored:
    """A partition's verdicts (the contract's rows), the version that made them, and what the
    scorer adds to the asset's metadata."""

    frame: pd.DataFrame
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LLMJudge:
    """What one run's LLM judgement needs: the API, the scorer's settings, and the run's mode
    (``sync``, ``batch`` or ``collect``)."""

    llm: LLMResource
    config: LLMConfig
    mode: str
    deadline_hours: float


def _description(level: str, category: str, rules_level: str, rules_text: str, text: str) -> str:
    if level == "low":
        # The rules' "Resolved: ..." or "Low: ..." reading still says why it is low.
        return rules_text if rules_level == "low" else NO_RISK_DESCRIPTION
    if rules_level != "low":
        return rules_text
    subject = subject_of(text)
    label = CATEGORY_LABELS.get(category, "Business")
    return one_line(f"{label} risk" + (f" on {subject}" if subject else ""))


def derived_categories(
    rules: pd.DataFrame, levels: Sequence[str], scorer_categories: Sequence[object]
) -> list[str]:
    """Each row's risk category (:func:`~digest_pipeline.defs.risk.signals.risk_category`) from
    the ``message_category`` the rules frame carries, its final ``levels`` and the scorer's own
    category guesses."""
    return [
        risk_category(level, topic, guess if isinstance(guess, str) else None)
        for level, topic, guess in zip(
            levels, rules["message_category"].tolist(), scorer_categories, strict=True
        )
    ]


def informed_categories(
    rules: pd.DataFrame,
    texts: Sequence[object],
    channels: Sequence[object],
    contexts: Sequence[object],
    predictions: Predictions,
) -> list[str]:
    """Each row's risk category: for a message the model finds risky, the category engine with
    the model's category scores as its prior (the message's words, its channel and its thread
    parent's words weighed against the model's reading); otherwise
    :func:`derived_categories`."""
    derived = derived_categories(rules, predictions.levels, predictions.categories)
    return [
        thread_category(_text(text) or "", _text(channel), _text(context), prior)
        if level != "low" and prior
        else category
        for category, level, prior, text, channel, context in zip(
            derived,
            predictions.levels,
            predictions.category_scores,
            texts,
            channels,
            contexts,
            strict=True,
        )
    ]


def model_assessments(
    rules: pd.DataFrame,
    texts: Sequence[object],
    contexts: Sequence[object],
    model: RiskModel,
    *,
    channels: Sequence[object],
) -> tuple[pd.DataFrame, Predictions]:
    """``rules`` (contract-shaped rows, one per message, same order as ``texts``) with the model's
    verdict in place of the rules' one; ``rules_risk_level`` keeps the rules' level. ``channels``
    are the messages' channel names (the category engine reads them)."""
    predictions = model.predict(texts, contexts)
    frame = rules.copy()
    if frame.empty:
        return frame, predictions
    rules_levels = frame["risk_level"].tolist()
    descriptions = frame["description"].tolist()
    categories = informed_categories(frame, texts, channels, contexts, predictions)
    frame["rules_risk_level"] = rules_levels
    frame["risk_level"] = predictions.levels
    frame["risk_category"] = categories
    frame["description"] = [
        _description(
            level, category, rules_level, rules_text, text if isinstance(text, str) else ""
        )
        for level, category, rules_level, rules_text, text in zip(
            predictions.levels,
            categories,
            rules_levels,
            descriptions,
            texts,
            strict=True,
        )
    ]
    frame["confidence_score"] = np.round(predictions.confidence.astype(float), 3)
    frame["mitigation_suggestions"] = [
        json.dumps(mitigations(c, level))
        for c, level in zip(categories, predictions.levels, strict=True)
    ]
    frame["requires_attention"] = predictions.attention
    frame["scorer"] = MODEL_SCORER
    frame["model"] = model.version
    frame["prompt_version"] = None
    frame["model_version"] = model.version
    frame["model_risk_level"] = predictions.levels
    frame["risk_probability"] = np.round(predictions.p_ge_high.astype(float), 4)
    frame["judgement"] = MODEL_SCORER
    return frame, predictions


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
    part: Partition,
    base: pd.DataFrame,
    predictions: Predictions,
    model: RiskModel,
    judge: LLMJudge,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``base`` (the model's rows), then the LLM for what the model is not sure is low (not
    cached): live calls, or a Batch API submission whose answers a later run reads from the
    cache."""
    context, messages, warehouse = part.context, part.messages, part.warehouse
    config, mode = judge.config, judge.mode
    ids = base["message_id"].tolist()
    confident_low = model.llm_skip(messages["content"].tolist(), predictions)
    skip = {m for m, s in zip(ids, confident_low.tolist(), strict=True) if s}
    floor = {m for m, f in zip(ids, predictions.critical_floor.tolist(), strict=True) if f}
    items, triaged, hashes = llm_items(messages, part.contexts, skip, user_names(warehouse))
    cached = cache.lookup(
        warehouse, list(hashes.values()), model=config.model, prompt_version=config.prompt_version
    )
    judged = {m: cached[h] for m, h in hashes.items() if h in cached}
    todo = [item for item in items if item.message_id not in judged]
    began = time.perf_counter()
    outcome = LLMOutcome()
    batch_meta: dict[str, Any] = {}
    if todo and mode == "sync":
        with judge.llm.client() as client:
            outcome = LLMRiskScorer(judge.llm.caller(client, purpose="scoring"), config).score(todo)
    elif todo:
        outcome, batch_meta = _batch_mode(context, todo, hashes, judge, warehouse)
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
    # The LLM's category is a guess like the model's: the message's category decides.
    frame["risk_category"] = derived_categories(
        frame, frame["risk_level"].tolist(), frame["risk_category"].tolist()
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
    judge: LLMJudge,
    warehouse: Warehouse,
) -> tuple[LLMOutcome, dict[str, Any]]:
    """Batch API: submit what no open batch already holds (``batch``), or, in a run the batch
    sensor requested (``collect``), mark what the batch did not answer. No live call either way;
    every row not in the cache keeps the model's verdict, marked for re-scoring."""
    config = judge.config
    outcome = LLMOutcome()
    if judge.mode == "collect":
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
        with judge.llm.client(max_retries=2) as client:
            submitted = batch.submit(
                client,
                warehouse,
                packed,
                {item.message_id: hashes[item.message_id] for item in new},
                config,
                partitions=partitions,
                deadline_hours=judge.deadline_hours,
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
