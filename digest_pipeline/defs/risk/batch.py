"""OpenAI Batch API (``DIGEST_LLM_MODE=batch``, or a run tagged ``digest/llm_mode=batch``).

Half the price of live calls, answers within 24 hours: for backfills. How it runs:

1. ``risk_assessments`` packs what the LLM must judge exactly as the live path does
   (:func:`~digest_pipeline.defs.risk.llm.pack_batches`), writes the requests as a JSONL file
   (:func:`request_lines`; ``custom_id`` = a hash of model, prompt and messages), uploads it
   (``files.create(purpose="batch")``), creates the batch (``batches.create``) and records it in
   ``risk_llm_batches`` with its partitions, its deadline and which input hash each prompt ID
   stands for. The partitions are written at once with the risk model's verdicts, marked
   ``needs_rescore`` (``fallback_reason='batch_pending'``). Messages already waiting in an open
   batch are not submitted twice.
2. ``llm_batch_sensor`` polls the open batches. When one ends it reads the output file:
   :func:`parse_output` checks every ID exactly once and validates every answer, as live calls
   are; the judgements go into ``risk_llm_cache`` and the sensor requests one run of the
   batch's partition range (tagged ``digest/llm_batch``), which finds them in the cache (no
   call) and replaces the model's rows. A batch still running past its deadline is cancelled.
   Whatever a failed, expired or cancelled batch did not answer keeps the model's verdict and
   stays marked for re-scoring, with the batch's status as the reason; the collecting run
   submits nothing new.
"""

import hashlib
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import dagster as dg
import openai
import pandas as pd
from pydantic import ValidationError

from digest_pipeline.defs.llm.calls import LLMUsage
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.risk import cache
from digest_pipeline.defs.risk.llm import Batch, LLMConfig, to_assessment
from digest_pipeline.defs.risk.models import RiskAssessment
from digest_pipeline.defs.risk.prompt import ScoredBatch, build_messages
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

# A run tag: this run alone scores in ``sync`` or ``batch`` mode (a backfill through the Batch
# API while the hourly runs stay live).
MODE_TAG = "digest/llm_mode"
# A run tag set by ``llm_batch_sensor``: the batch whose answers this run reads from the cache.
COLLECT_TAG = "digest/llm_batch"

ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
# The Batch API's limits on one input file.
MAX_REQUESTS_PER_BATCH = 50_000
MAX_FILE_BYTES = 190 * 1024 * 1024
MAX_OUTPUT_LINE_BYTES = 1024 * 1024
OPEN_STATUSES = ("validating", "in_progress", "finalizing", "cancelling", "submitted")
FINAL_STATUSES = ("completed", "failed", "expired", "cancelled")

BATCHES = SideTable.declared("risk_llm_batches")
BATCHES_TABLE = BATCHES.name

RequestMap = dict[str, dict[str, list[str]]]


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


def request_map(
    batches: Sequence[Batch], config: LLMConfig, hashes: Mapping[str, str]
) -> RequestMap:
    """What each request's prompt IDs stand for: ``[input hash, message id]``."""
    return {
        custom_id(batch, config): {
            prompt_id: [hashes[message_id], message_id]
            for prompt_id, message_id in batch.ids.items()
        }
        for batch in batches
    }


def parse_output(
    lines: Iterable[str], requests: Mapping[str, Mapping[str, Sequence[str]]], usage: LLMUsage
) -> tuple[dict[str, tuple[str, RiskAssessment]], dict[str, str]]:
    """``({input hash: (message id, judgement)}, {input hash: reason})`` from a Batch API output
    file; every message of every request ends in exactly one of the two."""
    results: dict[str, tuple[str, RiskAssessment]] = {}
    failures: dict[str, str] = {}
    answered: set[str] = set()

    def fail(ids: Mapping[str, Sequence[str]], reason: str) -> None:
        failures.update({key: reason for key, _ in ids.values()})

    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line[:MAX_OUTPUT_LINE_BYTES])
        except ValueError:
            usage.add(failed_calls=1)
            continue
        if not isinstance(record, dict):
            continue
        key = record.get("custom_id")
        if not isinstance(key, str) or (ids := requests.get(key)) is None or key in answered:
            usage.add(unexpected_ids=1)
            continue
        answered.add(key)
        usage.add(calls=1)
        response = record.get("response") or {}
        body = response.get("body") or {}
        if response.get("status_code") != 200 or record.get("error"):
            usage.add(failed_calls=1)
            fail(ids, "batch_error")
            continue
        reported = body.get("usage") or {}
        usage.add(
            prompt_tokens=int(reported.get("prompt_tokens") or 0),
            completion_tokens=int(reported.get("completion_tokens") or 0),
        )
        choice = (body.get("choices") or [{}])[0]
        content = (choice.get("message") or {}).get("content")
        if choice.get("finish_reason") != "stop" or not content:
            fail(ids, "length" if choice.get("finish_reason") == "length" else "refusal")
            continue
        try:
            parsed = ScoredBatch.model_validate_json(content)
        except ValidationError:
            fail(ids, "malformed")
            continue
        seen: dict[str, int] = {}
        for item in parsed.assessments:
            seen[item.id] = seen.get(item.id, 0) + 1
        by_id = {item.id: item for item in parsed.assessments}
        for prompt_id, (input_hash, message_id) in ids.items():
            count = seen.get(prompt_id, 0)
            if count != 1:
                failures[input_hash] = "missing_id" if count == 0 else "duplicate_id"
                continue
            try:
                results[input_hash] = (message_id, to_assessment(by_id[prompt_id]))
            except ValidationError:
                failures[input_hash] = "invalid"
    for key, ids in requests.items():
        if key not in answered:
            fail(ids, "batch_missing")
    return results, failures


# --------------------------------------------------------------------------------------------
# Submitting and tracking


@dataclass(frozen=True)
class Submission:
    batch_ids: list[str]
    requests: int
    messages: int


def _chunks(lines: Sequence[str]) -> list[list[int]]:
    """Request indexes per input file, inside the Batch API's count and size limits."""
    chunks: list[list[int]] = [[]]
    size = 0
    for i, line in enumerate(lines):
        cost = len(line.encode()) + 1
        if chunks[-1] and (
            len(chunks[-1]) >= MAX_REQUESTS_PER_BATCH or size + cost > MAX_FILE_BYTES
        ):
            chunks.append([])
            size = 0
        chunks[-1].append(i)
        size += cost
    return [c for c in chunks if c]


def submit(
    client: openai.OpenAI,
    warehouse: Warehouse,
    batches: Sequence[Batch],
    hashes: Mapping[str, str],
    config: LLMConfig,
    *,
    partitions: tuple[str, str],
    deadline_hours: float,
) -> Submission:
    """Write the request file(s), upload, create the batch(es), record them; raises
    ``openai.OpenAIError`` when the API refuses (the caller falls back)."""
    lines = request_lines(batches, config)
    mapping = request_map(batches, config, hashes)
    ids = list(mapping)
    created: list[str] = []
    rows = []
    for chunk in _chunks(lines):
        with tempfile.TemporaryDirectory(prefix="digest-batch-") as folder:
            path = Path(folder) / "risk-requests.jsonl"
            path.write_text("\n".join(lines[i] for i in chunk) + "\n", encoding="utf-8")
            uploaded = client.files.create(file=path, purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window=COMPLETION_WINDOW,
            metadata={
                "source": "digest_pipeline",
                "partitions": f"{partitions[0]}..{partitions[1]}",
            },
        )
        now = datetime.now(UTC)
        chunk_map = {ids[i]: mapping[ids[i]] for i in chunk}
        created.append(batch.id)
        rows.append(
            {
                "batch_id": batch.id,
                "status": "submitted",
                "model": config.model,
                "prompt_version": config.prompt_version,
                "partition_start": partitions[0],
                "partition_end": partitions[1],
                "input_file_id": uploaded.id,
                "requests": len(chunk),
                "messages": sum(len(v) for v in chunk_map.values()),
                "request_map": json.dumps(chunk_map),
                "submitted_at": now,
                "deadline": now + timedelta(hours=deadline_hours),
                "collected_at": None,
                "answered": 0,
                "failed": 0,
                "failures": "{}",
            }
        )
    _write(warehouse, rows)
    return Submission(created, len(lines), len(hashes))


def _write(warehouse: Warehouse, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    frame = BATCHES.frame(rows)
    for name in ("submitted_at", "deadline", "collected_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    frame = frame.astype(
        {"requests": "int64", "messages": "int64", "answered": "int64", "failed": "int64"}
    )
    BATCHES.upsert(warehouse, frame)


def batches(warehouse: Warehouse, *, open_only: bool = False) -> pd.DataFrame:
    """Rows of ``risk_llm_batches`` (empty before the first batch)."""
    where = {"collected_at": None} if open_only else {}
    return BATCHES.read(warehouse, where, order_by=("submitted_at",))


def _hashes(row: Mapping[str, Any]) -> set[str]:
    mapping = row["request_map"]
    mapping = json.loads(mapping) if isinstance(mapping, str) else mapping
    return {key for ids in mapping.values() for key, _ in ids.values()}


def pending_hashes(warehouse: Warehouse, config: LLMConfig) -> set[str]:
    """Input hashes waiting in an open batch for this model and prompt."""
    rows = batches(warehouse, open_only=True)
    # pandas is untyped here: a boolean mask selects a frame.
    rows = cast(
        pd.DataFrame,
        rows[(rows["model"] == config.model) & (rows["prompt_version"] == config.prompt_version)],
    )
    return set().union(*(_hashes(r) for r in rows.to_dict("records"))) if len(rows) else set()


def batch_reasons(warehouse: Warehouse, batch_id: str) -> tuple[dict[str, str], str]:
    """Why a collected batch did not judge each message: for a completed batch the reason its
    output gave (``missing_id``, ``batch_missing``, ``malformed``, … by input hash); for one that
    expired, failed, was cancelled or is gone, ``batch_<status>`` for all."""
    rows = batches(warehouse)
    found = rows[rows["batch_id"] == batch_id]
    if not len(found):
        return {}, "batch_missing"
    row = found.iloc[0]
    failures = row.get("failures") if "failures" in found else None
    if isinstance(failures, str):
        try:
            failures = json.loads(failures)
        except ValueError:
            failures = {}
    status = str(row["status"])
    if status != "completed":  # expired, failed, cancelled, gone: the batch's fate says it all
        return {}, f"batch_{status}"
    return {str(k): str(v) for k, v in (failures or {}).items()}, "batch_missing"


# --------------------------------------------------------------------------------------------
# Collecting


@dataclass(frozen=True)
class Collected:
    batch_id: str
    status: str
    partitions: tuple[str, str]
    answered: int
    failed: int


def collect(
    client: openai.OpenAI, warehouse: Warehouse, *, now: datetime | None = None
) -> tuple[list[Collected], list[str]]:
    """Poll every open batch: cache what finished ones answered, cancel those past their
    deadline. Returns (batches collected now, a log line per batch still open)."""
    now = now or datetime.now(UTC)
    done: list[Collected] = []
    waiting: list[str] = []
    updates = []
    for row in batches(warehouse, open_only=True).to_dict("records"):
        try:
            remote = client.batches.retrieve(row["batch_id"])
        except openai.NotFoundError:
            # The batch is gone on the server's side: final, nothing to read.
            updates.append(
                {**row, "status": "gone", "collected_at": now, "failed": row["messages"]}
            )
            done.append(
                Collected(
                    row["batch_id"],
                    "gone",
                    (row["partition_start"], row["partition_end"]),
                    0,
                    int(row["messages"]),
                )
            )
            continue
        except openai.OpenAIError as e:  # transient: this batch waits for the next tick
            waiting.append(f"{row['batch_id']}: not polled ({type(e).__name__})")
            continue
        status = remote.status
        if status not in FINAL_STATUSES:
            deadline = pd.Timestamp(row["deadline"]).to_pydatetime()
            if now >= deadline and status != "cancelling":
                client.batches.cancel(row["batch_id"])
                status = "cancelling"
            waiting.append(f"{row['batch_id']}: {status}")
            updates.append({**row, "status": status})
            continue
        mapping = (
            json.loads(row["request_map"])
            if isinstance(row["request_map"], str)
            else row["request_map"]
        )
        lines: list[str] = []
        if remote.output_file_id:
            try:
                lines = client.files.content(remote.output_file_id).text.splitlines()
            except openai.NotFoundError:
                lines = []  # the output is gone: every message counts as unanswered
            except openai.OpenAIError as e:
                waiting.append(f"{row['batch_id']}: output not read ({type(e).__name__})")
                continue
        usage = LLMUsage(purpose="scoring")
        results, failures = parse_output(lines, mapping, usage)
        cache.store(warehouse, results, model=row["model"], prompt_version=row["prompt_version"])
        updates.append(
            {
                **row,
                "status": status,
                "collected_at": now,
                "answered": len(results),
                "failed": len(failures),
                "failures": json.dumps(failures),
            }
        )
        done.append(
            Collected(
                row["batch_id"],
                status,
                (row["partition_start"], row["partition_end"]),
                len(results),
                len(failures),
            )
        )
    _write(warehouse, updates)
    return done, waiting


@dg.sensor(
    name="llm_batch_sensor",
    minimum_interval_seconds=300,
    asset_selection=dg.AssetSelection.assets("risk_assessments"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Polls open OpenAI batches (DIGEST_LLM_MODE=batch): caches the answers of finished ones "
        "and re-runs their partitions, which then read the cache; cancels batches past their "
        "deadline. Makes no API call while no batch is open."
    ),
)
def llm_batch_sensor(
    context: dg.SensorEvaluationContext, llm: LLMResource, warehouse: Warehouse
) -> dg.SensorResult | dg.SkipReason:
    if batches(warehouse, open_only=True).empty:
        return dg.SkipReason("no open LLM batch")
    # The SDK's own retries: the files and batches endpoints' calls are not counted.
    with llm.client(max_retries=2) as client:
        done, waiting = collect(client, warehouse)
    for line in waiting:
        context.log.info(f"batch still open: {line}")
    requests = [
        dg.RunRequest(
            run_key=f"{c.batch_id}:{c.status}",
            asset_selection=[dg.AssetKey("risk_assessments")],
            tags={
                COLLECT_TAG: c.batch_id,
                "dagster/asset_partition_range_start": c.partitions[0],
                "dagster/asset_partition_range_end": c.partitions[1],
            },
        )
        for c in done
    ]
    if not requests:
        return dg.SkipReason(f"{len(waiting)} batch(es) still open")
    for c in done:
        context.log.info(
            f"batch {c.batch_id} {c.status}: {c.answered} judged, {c.failed} kept on the model; "
            f"re-running {c.partitions[0]}..{c.partitions[1]}"
        )
    return dg.SensorResult(run_requests=requests)
