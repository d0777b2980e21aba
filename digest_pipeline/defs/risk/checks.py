"""How good the active risk scorer is, as an asset check on ``risk_assessments``.

The check runs the evaluation harness (:mod:`digest_pipeline.defs.risk.eval`) on the labeled set
shipped with the package, with the scorer the pipeline uses (``DIGEST_SCORER``: the rules, or the
LLM when ``OPENAI_API_KEY`` is set), and warns — severity WARN, never blocking the digest — when
recall on high+critical messages falls below ``DIGEST_EVAL_MIN_HIGH_RECALL`` (default 0.85).
Missing a critical EOL notice is the expensive mistake; a noisy medium is not, so recall on the
risky levels is what the check guards. All the metrics are in the check's metadata.

The rules scorer is deterministic, so its report is computed once per process and reused by every
later run in it (the rules take ~0.1 s on the 292 rows). The threshold is read when the check
runs, never at import.
"""

import hashlib
import os
import time
from collections.abc import Mapping
from functools import lru_cache

import dagster as dg

from digest_pipeline.defs.risk.eval import (
    EvalReport,
    LabeledMessage,
    ScorerUnavailable,
    evaluate,
    load_labeled,
    packaged_dataset,
    resolve_scorer,
)

ASSET = dg.AssetKey("risk_assessments")
CHECK_NAME = "scorer_eval_high_recall"
MIN_RECALL_VARIABLE = "DIGEST_EVAL_MIN_HIGH_RECALL"
DEFAULT_MIN_HIGH_RECALL = 0.85


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
    return dg.AssetCheckResult(
        asset_key=ASSET,
        check_name=CHECK_NAME,
        passed=recall >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"high+critical recall {recall:.3f} "
            f"{'>=' if recall >= threshold else '<'} {threshold:.2f} ({scorer} scorer)"
        ),
        metadata={
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


def build_scorer_eval_check(
    scorer_choice: str = "auto", env: Mapping[str, str] | None = None
) -> dg.AssetChecksDefinition:
    """The check for ``DIGEST_SCORER=scorer_choice``; ``env`` defaults to the process's at run time.

    ``auto`` and ``llm`` use the LLM only when ``OPENAI_API_KEY`` is set (see
    :func:`~digest_pipeline.defs.risk.eval.resolve_scorer`); tests pass an ``env`` without it.
    """

    @dg.asset_check(
        asset=ASSET,
        name=CHECK_NAME,
        blocking=False,
        description=(
            "Evaluates the active risk scorer on the packaged labeled set (digest-eval) and warns "
            f"when recall on high+critical is below {MIN_RECALL_VARIABLE} "
            f"(default {DEFAULT_MIN_HIGH_RECALL})."
        ),
    )
    def scorer_eval_high_recall(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        variables = dict(os.environ) if env is None else dict(env)
        threshold = min_high_recall(variables)
        records, digest = _labeled()
        started = time.perf_counter()
        try:
            scorer, name, note = resolve_scorer(scorer_choice, variables)
        except ScorerUnavailable as e:
            raise dg.Failure(f"DIGEST_SCORER={scorer_choice}: {e}") from e
        if note:
            context.log.info(note + "using the rules scorer")
        if name == "rules":
            report = _rules_report(digest)
        else:
            try:
                report = evaluate(records, scorer)
            except Exception as e:
                raise dg.Failure(
                    f"evaluating the {name} scorer on the labeled set failed: {type(e).__name__}"
                ) from e
        return eval_check_result(
            report,
            scorer=name,
            threshold=threshold,
            dataset=f"packaged labeled.jsonl ({len(records)} rows, sha256 {digest})",
            seconds=time.perf_counter() - started,
        )

    return scorer_eval_high_recall
