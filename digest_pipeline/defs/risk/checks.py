"""How good the active risk scorer is, as an asset check on ``risk_assessments``.

With the learned model (``DIGEST_SCORER`` model, llm or auto) the check reports the current
model's **out-of-source** figures from its card: every labeled company's messages scored by a
model trained without them (see ``training.py``). It costs nothing at run time — no training, no
LLM call — and warns (severity WARN, never blocking the digest) when pooled recall on
high+critical falls below ``DIGEST_EVAL_MIN_HIGH_RECALL`` (default 0.75). Missing a critical EOL
notice is the expensive mistake; a noisy medium is not, so recall on the risky levels is guarded.

With ``DIGEST_SCORER=rules`` it runs the evaluation harness on the packaged labeled set with the
rules (in-sample: the rules were written against that set). The threshold is read when the check
runs, never at import.
"""

import hashlib
import os
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import dagster as dg

from digest_pipeline.defs.risk.eval import (
    EvalReport,
    LabeledMessage,
    evaluate,
    load_labeled,
    packaged_dataset,
)
from digest_pipeline.defs.risk.store import RiskModelStore

ASSET = dg.AssetKey("risk_assessments")
CHECK_NAME = "scorer_eval_high_recall"
MIN_RECALL_VARIABLE = "DIGEST_EVAL_MIN_HIGH_RECALL"
DEFAULT_MIN_HIGH_RECALL = 0.75


def min_high_recall(env: Mapping[str, str]) -> float:
    """The threshold from ``DIGEST_EVAL_MIN_HIGH_RECALL`` (a number in [0, 1])."""
    raw = (env.get(MIN_RECALL_VARIABLE) or "").strip()
    if not raw:
        return DEFAULT_MIN_HIGH_RECALL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise dg.Failure(f"{MIN_RECALL_VARIABLE}={raw!r} must be a number between 0 and 1")
    return value


@lru_cache(maxsize=1)
def _labeled() -> tuple[tuple[LabeledMessage, ...], str]:
    records = tuple(load_labeled())
    digest = hashlib.sha256(packaged_dataset().read_bytes()).hexdigest()[:12]
    return records, digest


@lru_cache(maxsize=4)
def _rules_report(dataset_digest: str) -> EvalReport:
    from digest_pipeline.defs.risk.rules import rules_scorer

    return evaluate(_labeled()[0], rules_scorer)


def eval_check_result(
    report: EvalReport, *, scorer: str, threshold: float, dataset: str, seconds: float
) -> dg.AssetCheckResult:
    """The check's verdict and metadata for one evaluation report."""
    recall = report.high_critical_recall
    per_level = {
        level: {
            "precision": round(m.precision, 3),
            "recall": round(m.recall, 3),
            "f1": round(m.f1, 3),
            "support": m.support,
        }
        for level, m in report.per_level.items()
    }
    missed = [
        f"{m.id}: {m.gold} -> {m.predicted}: {m.text[:80]}"
        for m in report.misses
        if m.gold in ("high", "critical") and m.predicted not in ("high", "critical")
    ]
    return _verdict(
        recall,
        threshold,
        f"high+critical recall {recall:.3f} {{}} {threshold:.2f} ({scorer} scorer)",
        {
            "scorer": scorer,
            "threshold": threshold,
            "high_critical_recall": round(recall, 4),
            "high_critical_support": report.high_critical_support,
            "accuracy": round(report.accuracy, 4),
            "macro_f1": round(report.macro_f1, 4),
            "category_accuracy": round(report.category_accuracy, 4),
            "attention_precision": round(report.attention_precision, 4),
            "attention_recall": round(report.attention_recall, 4),
            "rows": report.total,
            "per_level": per_level,
            "confusion": report.confusion,
            "missed_high_critical": missed[:20],
            "dataset": dataset,
            "seconds": round(seconds, 3),
        },
    )


def _verdict(
    recall: float, threshold: float, description: str, metadata: dict[str, Any]
) -> dg.AssetCheckResult:
    """A WARN-severity result: passed when ``recall`` reaches ``threshold``; ``{}`` in the
    description becomes ``>=`` or ``<``."""
    return dg.AssetCheckResult(
        asset_key=ASSET,
        check_name=CHECK_NAME,
        passed=recall >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=description.format(">=" if recall >= threshold else "<"),
        metadata=metadata,
    )


def model_check_result(
    card: Mapping[str, Any], *, version: str, threshold: float
) -> dg.AssetCheckResult:
    """The check's verdict from a model card's out-of-source figures."""
    cv = card["cross_validation"]
    pooled = cv["pooled"]
    recall = float(pooled["recall_high_critical"] or 0.0)
    return _verdict(
        recall,
        threshold,
        f"out-of-source high+critical recall {recall:.3f} {{}} {threshold:.2f} "
        f"(risk model {version})",
        {
            "scorer": "model",
            "model_version": version,
            "threshold": threshold,
            "method": cv["method"],
            "high_critical_recall": round(recall, 4),
            "high_critical_precision": pooled["precision_high_critical"],
            "high_critical_support": pooled["high_critical"],
            "accuracy": pooled["accuracy"],
            "rows": pooled["rows"],
            "per_source": {
                source: {
                    "recall_high_critical": f["recall_high_critical"],
                    "precision_high_critical": f["precision_high_critical"],
                    "rows": f["rows"],
                }
                for source, f in cv["per_source"].items()
            },
            "confusion": pooled["confusion"],
        },
    )


def build_scorer_eval_check(
    scorer: str = "model", env: Mapping[str, str] | None = None
) -> dg.AssetChecksDefinition:
    """The check for the effective scorer (``model``, ``llm`` or ``rules``); ``env`` defaults to
    the process's at run time (tests pass their own)."""

    @dg.asset_check(
        asset=ASSET,
        name=CHECK_NAME,
        blocking=False,
        description=(
            "The risk scorer's recall on high+critical messages it did not train on (the current "
            "risk model's leave-one-source-out figures; the rules on the packaged set under "
            f"DIGEST_SCORER=rules); warns below {MIN_RECALL_VARIABLE} "
            f"(default {DEFAULT_MIN_HIGH_RECALL})."
        ),
    )
    def scorer_eval_high_recall(
        context: dg.AssetCheckExecutionContext, risk_model_store: RiskModelStore
    ) -> dg.AssetCheckResult:
        variables = dict(os.environ) if env is None else dict(env)
        threshold = min_high_recall(variables)
        if scorer != "rules":
            model = risk_model_store.current(context.log)
            return model_check_result(model.card, version=model.version, threshold=threshold)
        records, digest = _labeled()
        started = time.perf_counter()
        return eval_check_result(
            _rules_report(digest),
            scorer="rules",
            threshold=threshold,
            dataset=f"packaged labeled.jsonl ({len(records)} rows, sha256 {digest}, in-sample)",
            seconds=time.perf_counter() - started,
        )

    return scorer_eval_high_recall
