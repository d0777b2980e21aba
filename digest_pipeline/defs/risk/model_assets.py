"""``risk_labels`` → ``risk_model``: labeled messages gathered and checked, a model trained on them.

``risk_labels`` gathers the packaged corpora, the team's file (``DIGEST_LABELS_PATH``), people's
verdicts (``risk_feedback``) and the LLM's verdicts (``risk_assessments`` judged by the LLM,
weighted below people's labels). ``risk_model`` trains on them, or reuses the stored model when
the version (a hash of rows, feature code and parameters) already exists, and makes it current.
``risk_labels_sensor`` re-runs both when the labels change; scoring old hours again with a new
model is a backfill the user starts (``risk_assessments.model_version`` tells which model scored
what).
"""

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import dagster as dg
import duckdb
import pandas as pd

from digest_pipeline import contract
from digest_pipeline.contract.enumerations import LEVELS
from digest_pipeline.defs.risk.labels import (
    LabeledMessage,
    LabelSet,
    feedback_labels,
    llm_labels,
    load_packaged,
    merge,
    read_label_file,
)
from digest_pipeline.defs.risk.model import ModelParams, RiskModel, model_version
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.risk.training import (
    confusion_table,
    cross_validation_table,
    train_risk_model,
)
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse

MAX_LLM_LABELS = 20_000
PROBLEMS_SHOWN = 20

LABELS_SCHEMA = contract.table("risk_labels", "asset").schema
MODEL_SCHEMA = contract.table("risk_model", "asset").schema

_FEEDBACK_SQL = """
SELECT f.*, m.content AS text,
       m.channel, p.content AS thread_context
FROM {schema}.risk_feedback f
JOIN {schema}.messages m ON m.id = f.message_id
LEFT JOIN {schema}.messages p ON p.id = m.parent_id AND m.is_reply
"""
_LLM_SQL = """
SELECT r.message_id, r.llm_risk_level AS risk_level, r.risk_category, r.requires_attention,
       m.content AS text, m.channel, p.content AS thread_context
FROM {schema}.risk_assessments r
JOIN {schema}.messages m ON m.id = r.message_id
LEFT JOIN {schema}.messages p ON p.id = m.parent_id AND m.is_reply
WHERE r.judgement = 'llm' AND r.llm_risk_level IS NOT NULL
ORDER BY r.created_at DESC, r.message_id
LIMIT ?
"""


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@dataclass(frozen=True)
class WarehouseLabels:
    """Labels that live in the warehouse: people's verdicts and the LLM's."""

    feedback: LabelSet = field(default_factory=LabelSet)
    llm: LabelSet = field(default_factory=LabelSet)


def warehouse_labels(warehouse: Warehouse) -> WarehouseLabels:
    """People's verdicts and the LLM's, when those tables exist."""
    if not warehouse.table_exists("messages"):
        return WarehouseLabels()
    feedback = (
        feedback_labels(_records(warehouse.query(_FEEDBACK_SQL)))
        if warehouse.table_exists("risk_feedback")
        else LabelSet()
    )
    llm = (
        llm_labels(_records(warehouse.query(_LLM_SQL, [MAX_LLM_LABELS])))
        if warehouse.table_exists("risk_assessments")
        else LabelSet()
    )
    return WarehouseLabels(feedback, llm)


def gather_labels(
    labels_path: str | None,
    stored: WarehouseLabels | None = None,
    *,
    packaged: bool = True,
) -> LabelSet:
    """Packaged corpora, the LLM's verdicts, the team's file, people's feedback: a later human
    source wins a duplicate text, and the LLM never beats a person (:func:`labels.merge`)."""
    stored = stored or WarehouseLabels()
    sets = [load_packaged()] if packaged else []
    sets.append(stored.llm)
    if labels_path:
        sets.append(read_label_file(labels_path, source="team"))
    sets.append(stored.feedback)
    return merge(sets)


def labels_frame(labels: LabelSet) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "id": r.id,
                "source": r.source,
                "text": r.text,
                "channel": r.channel,
                "thread_context": r.thread_context,
                "risk_level": r.risk_level,
                "risk_category": r.risk_category,
                "requires_attention": r.requires_attention,
                "weight": float(r.weight),
            }
            for r in labels.rows
        ],
        columns=pd.Index(column_names(LABELS_SCHEMA)),
    )
    return frame.astype({"weight": float})


def frame_rows(frame: pd.DataFrame) -> list[LabeledMessage]:
    """``risk_labels`` rows back as :class:`LabeledMessage` (the table is already checked)."""
    rows = []
    for r in _records(frame):
        if r["risk_level"] not in LEVELS:
            continue
        rows.append(
            LabeledMessage(
                text=str(r["text"]),
                risk_level=str(r["risk_level"]),
                channel=r["channel"],
                thread_context=r["thread_context"],
                risk_category=r["risk_category"],
                requires_attention=None
                if r["requires_attention"] is None
                else bool(r["requires_attention"]),
                id=str(r["id"]),
                source=str(r["source"]),
                weight=float(r["weight"]),
            )
        )
    return rows


@dg.asset(
    group_name="score",
    kinds={"python", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "labels_are_valid",
            asset="risk_labels",
            description="Every labeled row parsed: bad rows are counted and named here.",
        )
    ],
    description=(
        "Labeled messages the risk model learns from: the packaged corpora (the project's own, "
        "the shared development set, labeled sets of other companies), the team's file "
        "(DIGEST_LABELS_PATH, JSONL or CSV), people's verdicts (risk_feedback) and the LLM's "
        "verdicts (weighted below people's). Bad rows are counted and named, never dropped "
        "silently."
    ),
    metadata={"dagster/column_schema": LABELS_SCHEMA},
)
def risk_labels(
    context: dg.AssetExecutionContext, warehouse: Warehouse, risk_model_store: RiskModelStore
) -> Iterator[dg.Output[pd.DataFrame] | dg.AssetCheckResult]:
    labels = gather_labels(
        risk_model_store.labels_path,
        warehouse_labels(warehouse),
        packaged=risk_model_store.include_packaged,
    )
    problems = [str(p) for p in labels.problems]
    for problem in problems[:PROBLEMS_SHOWN]:
        context.log.warning(f"label row skipped: {problem}")
    yield dg.Output(
        labels_frame(labels),
        metadata={
            "dagster/row_count": len(labels.rows),
            "rows_by_source": labels.by_source(),
            "problems": labels.problem_count,
            "labels_path": risk_model_store.labels_path or "",
        },
    )
    yield dg.AssetCheckResult(
        check_name="labels_are_valid",
        passed=labels.problem_count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "all labeled rows parsed"
            if not labels.problem_count
            else f"{labels.problem_count} labeled row(s) skipped"
        ),
        metadata={"problems": labels.problem_count, "first_problems": problems[:PROBLEMS_SHOWN]},
    )


def model_row(model: RiskModel, path: str, trained_at: datetime) -> dict[str, Any]:
    cv = model.card["cross_validation"]
    return {
        "version": model.version,
        "trained_at": trained_at,
        "is_current": True,
        "training_rows": int(model.card["training_rows"]),
        "rows_by_source": json.dumps(model.card["training_rows_by_source"]),
        "cv_method": cv["method"],
        "recall_high_critical": cv["pooled"]["recall_high_critical"],
        "precision_high_critical": cv["pooled"]["precision_high_critical"],
        "per_source": json.dumps(
            {
                s: {k: v for k, v in f.items() if k != "confusion"}
                for s, f in cv["per_source"].items()
            }
        ),
        "thresholds": json.dumps(model.thresholds.as_dict()),
        "share_sent_to_llm": model.card["llm_cascade"]["share_sent_to_llm"],
        "path": path,
    }


def model_history(previous: pd.DataFrame, row: Mapping[str, Any]) -> pd.DataFrame:
    """Every version trained so far, the new one current (and first)."""
    frame = pd.DataFrame([row], columns=pd.Index(column_names(MODEL_SCHEMA)))
    if not previous.empty:
        # pandas is untyped here: a boolean mask or a column list selects a frame.
        older = cast(pd.DataFrame, previous[previous["version"] != row["version"]]).copy()
        older["is_current"] = False
        frame = pd.concat(
            [frame, cast(pd.DataFrame, older[column_names(MODEL_SCHEMA)])], ignore_index=True
        )
    frame["trained_at"] = pd.to_datetime(frame["trained_at"], utc=True)
    return frame.astype({"is_current": bool, "training_rows": "int64"})


@dg.asset(
    group_name="score",
    kinds={"scikitlearn", "duckdb"},
    description=(
        "The learned risk model (scikit-learn: word and character n-grams, the thread parent, "
        "figures) trained on risk_labels, with level, category, attention and a calibrated "
        "confidence. Its figures are out of source: each company's messages scored by a model "
        "that never saw them. Stored as skops under its version (a hash of rows, feature code "
        "and parameters); one table row per version."
    ),
    metadata={"dagster/column_schema": MODEL_SCHEMA},
)
def risk_model(
    context: dg.AssetExecutionContext,
    risk_labels: pd.DataFrame,
    risk_model_store: RiskModelStore,
    warehouse: Warehouse,
) -> dg.Output[pd.DataFrame]:
    rows = frame_rows(risk_labels)
    params = ModelParams()
    version = model_version(rows, params)
    reused = risk_model_store.has(version)
    if reused:
        context.log.info(f"labels unchanged: reusing {version}")
        model = risk_model_store.load(version)
    else:
        context.log.info(f"training {version} on {len(rows)} labeled rows")
        model = train_risk_model(rows, params, progress=context.log.info)
    path = risk_model_store.save(model)
    previous = (
        warehouse.query("SELECT * FROM {schema}.risk_model")
        if warehouse.table_exists("risk_model")
        else pd.DataFrame()
    )
    # pandas is untyped here: a boolean mask selects a frame.
    known = (
        cast(pd.DataFrame, previous[previous["version"] == version])
        if not previous.empty
        else previous
    )
    stored = pd.Timestamp(known["trained_at"].iloc[0]) if len(known) else pd.NaT
    # A stored row always has trained_at (the model's first training); NaT only without one.
    trained_at = stored.to_pydatetime() if isinstance(stored, pd.Timestamp) else datetime.now(UTC)
    cv = model.card["cross_validation"]
    return dg.Output(
        model_history(previous, model_row(model, str(path), trained_at)),
        metadata={
            "version": version,
            "reused": reused,
            "training_rows": model.card["training_rows"],
            "rows_by_source": model.card["training_rows_by_source"],
            "cv_method": cv["method"],
            "recall_high_critical": cv["pooled"]["recall_high_critical"],
            "precision_high_critical": cv["pooled"]["precision_high_critical"],
            "cross_validation": dg.MetadataValue.md(cross_validation_table(model.card)),
            "confusion_matrix": dg.MetadataValue.md(confusion_table(model.card)),
            "strongest_features": model.card.get("strongest_features", {}),
            "thresholds": model.thresholds.as_dict(),
            "llm_cascade": model.card["llm_cascade"],
            "train_seconds": model.card["train_seconds"],
            "path": str(path),
        },
    )


risk_model_job = dg.define_asset_job(
    "risk_model_job",
    selection=dg.AssetSelection.assets("risk_labels", "risk_model"),
    description="Gather the labels and train the risk model (reused when labels are unchanged).",
)


def labels_fingerprint(labels_path: str | None, warehouse: Warehouse) -> str:
    """What would change the labels: the team file's bytes, the feedback and LLM verdict counts."""
    digest = hashlib.sha256()
    if labels_path:
        try:
            stat = os.stat(labels_path)
            digest.update(f"{labels_path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"{labels_path}:missing".encode())
    for table, sql in (
        (
            "risk_feedback",
            "SELECT count(*) AS n, CAST(max(given_at) AS VARCHAR) AS m FROM {schema}.risk_feedback",
        ),
        (
            "risk_assessments",
            "SELECT count(*) AS n, '' AS m FROM {schema}.risk_assessments WHERE judgement = 'llm'",
        ),
    ):
        if warehouse.table_exists(table):
            row = warehouse.query(sql).iloc[0]
            digest.update(f"{table}:{row['n']}:{row['m']}".encode())
    return digest.hexdigest()[:16]


@dg.sensor(
    name="risk_labels_sensor",
    job=risk_model_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Retrains the risk model when its labels change: the team's file (DIGEST_LABELS_PATH), "
        "new feedback verdicts or new LLM verdicts. One run per distinct set of labels."
    ),
)
def risk_labels_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    risk_model_store: RiskModelStore,
) -> dg.SensorResult:
    try:
        fingerprint = labels_fingerprint(risk_model_store.labels_path, warehouse)
    except duckdb.IOException as e:  # a run holds the DuckDB file: try again next tick
        return dg.SensorResult(skip_reason=f"warehouse busy: {e}", cursor=context.cursor)
    if fingerprint == context.cursor:
        return dg.SensorResult(skip_reason="labels unchanged", cursor=context.cursor)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"labels:{fingerprint}")], cursor=fingerprint
    )
