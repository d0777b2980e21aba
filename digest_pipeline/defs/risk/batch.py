"""OpenAI Batch API (``DIGEST_LLM_MODE=batch``): the request file and the result parser.

Status: the two pure halves are here and tested; submission and polling are not wired yet (the
asset runs synchronously and says so in its metadata). The plan, which needs no new table shape:

1. A backfill run in batch mode packs its messages exactly as the sync path does
   (:func:`~digest_pipeline.defs.risk.llm.pack_batches`) and writes :func:`request_lines` as JSONL
   (``custom_id`` = the request's hash, so a resubmission is idempotent), uploads it
   (``client.files.create(purpose="batch")``), creates the batch
   (``client.batches.create(endpoint="/v1/chat/completions", completion_window="24h")``) and
   records ``(batch_id, partitions, submitted_at, deadline)`` in a ``risk_llm_batches`` side table.
   The partitions are materialized at once with the rules, marked ``needs_rescore``.
2. A sensor polls ``client.batches.retrieve`` for open batches; when one completes it downloads
   the output file, :func:`parse_output` checks every ID exactly once, the judgements go into the
   ``risk_llm_cache``, and the sensor requests runs of those partitions, which then hit the cache
   (zero calls) and replace the rules rows. Past the deadline (or on ``failed``/``expired``) the
   batch is cancelled and the messages stay on the rules, still marked for re-scoring.

Batch requests cost half; the cache makes the final runs free.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from digest_pipeline.defs.risk.llm import Batch, LLMConfig, to_assessment
from digest_pipeline.defs.risk.models import RiskAssessment
from digest_pipeline.defs.risk.openai_calls import LLMUsage
from digest_pipeline.defs.risk.prompt import ScoredBatch, build_messages

ENDPOINT = "/v1/chat/completions"


def response_format() -> dict[str, Any]:
    """``response_format`` for a raw request body: the strict JSON schema ``.parse`` would send."""
    from openai.lib._parsing._completions import type_to_response_format_param

    return dict(type_to_response_format_param(ScoredBatch))  # type: ignore[arg-type]


def custom_id(batch: Batch, config: LLMConfig) -> str:
    digest = hashlib.sha256(f"{config.model}\0{config.prompt_version}".encode())
    for message_id in batch.message_ids:
        digest.update(message_id.encode() + b"\0")
    return digest.hexdigest()[:32]


def request_lines(batches: Sequence[Batch], config: LLMConfig) -> list[str]:
    """One JSONL line a request, in the Batch API's input format."""
    fmt = response_format()
    return [
        json.dumps(
            {
                "custom_id": custom_id(batch, config),
                "method": "POST",
                "url": ENDPOINT,
                "body": {
                    "model": config.model,
                    "messages": build_messages(batch.threads),
                    "response_format": fmt,
                    "temperature": 0,
                    "max_completion_tokens": 50
                    + config.output_tokens_per_message * len(batch.items),
                },
            },
            ensure_ascii=False,
        )
        for batch in batches
    ]


def parse_output(
    lines: Iterable[str], batches: Sequence[Batch], config: LLMConfig, usage: LLMUsage
) -> tuple[dict[str, RiskAssessment], dict[str, str]]:
    """Judgements and failures by message ID from the Batch API's output file.

    Every message of every batch ends in exactly one of the two dicts.
    """
    by_custom_id = {custom_id(batch, config): batch for batch in batches}
    results: dict[str, RiskAssessment] = {}
    failures: dict[str, str] = {}
    answered: set[str] = set()
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        batch = by_custom_id.get(record.get("custom_id", ""))
        if batch is None or batch.message_ids[0] in answered:
            usage.add(unexpected_ids=1)
            continue
        answered.add(batch.message_ids[0])
        response = record.get("response") or {}
        body = response.get("body") or {}
        usage.add(calls=1)
        if response.get("status_code") != 200 or record.get("error"):
            failures.update(dict.fromkeys(batch.message_ids, "batch_error"))
            continue
        usage.add(
            prompt_tokens=int((body.get("usage") or {}).get("prompt_tokens", 0)),
            completion_tokens=int((body.get("usage") or {}).get("completion_tokens", 0)),
        )
        choice = (body.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content")
        if choice.get("finish_reason") != "stop" or not content:
            reason = "length" if choice.get("finish_reason") == "length" else "refusal"
            failures.update(dict.fromkeys(batch.message_ids, reason))
            continue
        try:
            parsed = ScoredBatch.model_validate_json(content)
        except ValidationError:
            failures.update(dict.fromkeys(batch.message_ids, "malformed"))
            continue
        seen: dict[str, int] = {}
        for item in parsed.assessments:
            seen[item.id] = seen.get(item.id, 0) + 1
        for batch_id, message_id in batch.ids.items():
            count = seen.get(batch_id, 0)
            if count != 1:
                failures[message_id] = "missing_id" if count == 0 else "duplicate_id"
                continue
            item = next(a for a in parsed.assessments if a.id == batch_id)
            results[message_id] = to_assessment(item)
    for batch in batches:
        if batch.message_ids[0] not in answered:
            failures.update(dict.fromkeys(batch.message_ids, "batch_missing"))
    return results, failures
