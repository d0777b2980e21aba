"""``llm_eval``: the LLM (and the model-then-LLM cascade) measured on labeled messages, on demand.

The hourly path never spends tokens on evaluation: ``scorer_eval_high_recall`` reads the risk
model's out-of-source figures from its card. This asset is the LLM's report card, run by hand
(``llm_eval_job``) or weekly (``llm_eval_weekly``, off until turned on). It scores a stable
sample of people's labels (the rows with the smallest text hashes, so the same rows every week
and more as labels grow) in thread batches through the same caller as ``risk_assessments``, and
caches every answer in ``risk_llm_cache`` by (input hash, model, prompt version): repeating it
with an unchanged model and prompt costs no call.

Figures:

* **llm**: the LLM's own verdicts on the rows it answered (it never trained on them);
* **cascade**: what ``risk_assessments`` would store: the model's confident lows skip the LLM, a
  confident critical is never lowered below high, a failed call keeps the model's verdict. The
  model in the cascade was trained on these rows, so its share of the verdicts is in-sample.
"""

import hashlib
import time
from collections.abc import Sequence
from typing import Any, cast

import dagster as dg
from pydantic import Field

from digest_pipeline.contract.enumerations import LEVEL_RANK, Category, Level
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.llm.text import input_hash, prepare_text
from digest_pipeline.defs.risk import cache
from digest_pipeline.defs.risk.eval import EvalReport, evaluate
from digest_pipeline.defs.risk.labels import LabeledMessage
from digest_pipeline.defs.risk.llm import LLMItem, LLMRiskScorer
from digest_pipeline.defs.risk.model_assets import gather_labels, warehouse_labels
from digest_pipeline.defs.risk.models import RiskAssessment
from digest_pipeline.defs.risk.resources import LLMScorer, RiskScorer
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.storage.warehouse import Warehouse

DEFAULT_EVAL_ROWS = 300


class LLMEvalConfig(dg.Config):
    rows: int = Field(
        default=DEFAULT_EVAL_ROWS,
        description="People's labeled rows to score (a stable sample; 0: all of them)",
    )


def _sample_key(row: LabeledMessage) -> str:
    return hashlib.sha256(f"{row.text}\0{row.thread_context or ''}".encode()).hexdigest()


def eval_sample(rows: Sequence[LabeledMessage], size: int) -> list[LabeledMessage]:
    """People's labels (not the LLM's own verdicts), one per distinct text and parent, the
    ``size`` with the smallest hashes: stable from week to week."""
    people: dict[str, LabeledMessage] = {}
    for row in rows:
        if row.source != "llm":
            people.setdefault(_sample_key(row), row)
    ordered = [people[key] for key in sorted(people)]
    return ordered[:size] if size > 0 else ordered


def eval_items(records: Sequence[LabeledMessage]) -> tuple[list[LLMItem], list[str]]:
    """One LLM item per record (its parent as context) and each record's input hash."""
    items: list[LLMItem] = []
    hashes: list[str] = []
    for record in records:
        text = prepare_text(record.text)
        parent = prepare_text(record.thread_context) if record.thread_context else None
        digest = input_hash(text, record.channel, parent)
        message_id = f"eval:{digest[:20]}"
        items.append(
            LLMItem(
                message_id=message_id,
                thread_id=f"{message_id}:thread" if parent else message_id,
                channel=record.channel,
                author=None,
                text=text,
                parent_text=parent,
            )
        )
        hashes.append(digest)
    return items, hashes


def _report(records: Sequence[LabeledMessage], verdicts: Sequence[RiskAssessment]) -> EvalReport:
    by_key = {
        (r.text, r.channel, r.thread_context): v for r, v in zip(records, verdicts, strict=True)
    }
    return evaluate(records, lambda text, channel, parent: by_key[(text, channel, parent)])


def _figures(report: EvalReport) -> dict[str, Any]:
    return {
        "rows": report.total,
        "recall_high_critical": round(report.high_critical_recall, 3),
        "precision_high_critical": round(report.high_critical_precision, 3),
        "accuracy": round(report.accuracy, 3),
        "macro_f1": round(report.macro_f1, 3),
        "confusion": report.confusion,
    }


@dg.asset(
    group_name="score",
    kinds={"python", "openai"},
    deps=["risk_labels", "risk_model"],
    description=(
        "The LLM and the model-then-LLM cascade measured on a stable sample of people's "
        "labels, on demand (llm_eval_job) or weekly. Answers are cached by input, model and "
        "prompt version: repeating it costs no call. The hourly check never calls the LLM."
    ),
)
def llm_eval(
    context: dg.AssetExecutionContext,
    config: LLMEvalConfig,
    risk_scorer: RiskScorer,
    risk_model_store: RiskModelStore,
    warehouse: Warehouse,
    llm: LLMResource,
) -> dg.MaterializeResult:
    if not llm.enabled or not isinstance(risk_scorer, LLMScorer):
        raise dg.Failure(
            "llm_eval measures the LLM: set OPENAI_API_KEY (or DIGEST_SCORER=llm with "
            "OPENAI_BASE_URL for a local server)"
        )
    labels = gather_labels(
        risk_model_store.labels_path,
        warehouse_labels(warehouse),
        packaged=risk_model_store.include_packaged,
    )
    records = eval_sample(labels.rows, config.rows)
    items, hashes = eval_items(records)
    llm_config = risk_scorer.llm_config(llm)
    cached = cache.lookup(
        warehouse, hashes, model=llm_config.model, prompt_version=llm_config.prompt_version
    )
    todo = [item for item, h in zip(items, hashes, strict=True) if h not in cached]
    context.log.info(
        f"llm_eval: {len(records)} labeled rows, {len(records) - len(todo)} cached, "
        f"{len(todo)} to score with {llm_config.model}"
    )
    began = time.perf_counter()
    scorer: LLMRiskScorer | None = None
    results: dict[str, RiskAssessment] = {}
    if todo:
        with llm.client() as client:
            scorer = LLMRiskScorer(llm.caller(client, purpose="evaluation"), llm_config)
            outcome = scorer.score(todo)
        results = outcome.results
        by_message = {item.message_id: h for item, h in zip(items, hashes, strict=True)}
        cache.store(
            warehouse,
            {by_message[m]: (m, a) for m, a in results.items()},
            model=llm_config.model,
            prompt_version=llm_config.prompt_version,
        )
    judged = dict(cached)
    judged.update(
        {
            h: results[item.message_id]
            for item, h in zip(items, hashes, strict=True)
            if item.message_id in results
        }
    )

    model = risk_model_store.current(context.log)
    texts = [r.text for r in records]
    parents = [r.thread_context for r in records]
    predictions = model.predict(texts, parents)
    skip = model.llm_skip(texts, predictions)
    model_verdicts = [
        # The model's labels are plain strings; RiskAssessment validates them as it is built.
        RiskAssessment(
            risk_level=cast(Level, level),
            risk_category=cast(Category, category),
            description="risk model",
            confidence_score=float(confidence),
            mitigation_suggestions=[],
            requires_attention=attention,
        )
        for level, category, confidence, attention in zip(
            predictions.levels,
            predictions.categories,
            predictions.confidence,
            predictions.attention,
            strict=True,
        )
    ]
    cascade: list[RiskAssessment] = []
    answered: list[int] = []
    for i, (h, own) in enumerate(zip(hashes, model_verdicts, strict=True)):
        verdict = judged.get(h)
        if verdict is not None:
            answered.append(i)
        if skip[i] or verdict is None:
            cascade.append(own)
        elif predictions.critical_floor[i] and verdict.level_rank < LEVEL_RANK["high"]:
            cascade.append(own)
        else:
            cascade.append(verdict)
    llm_report = _report([records[i] for i in answered], [judged[hashes[i]] for i in answered])
    cascade_report = _report(records, cascade)
    usage = scorer.caller.usage if scorer is not None else None
    usage_meta = (
        usage.as_metadata(llm_config.model)
        if usage is not None
        else {"llm_calls": 0, "llm_calls_by_purpose": {"evaluation": 0}}
    )
    return dg.MaterializeResult(
        metadata={
            "llm_model": llm_config.model,
            "prompt_version": llm_config.prompt_version,
            "model_version": model.version,
            "rows": len(records),
            "cache_hits": len(records) - len(todo),
            "llm_answered": len(answered),
            "fallbacks": len(records) - len(answered),
            "llm": _figures(llm_report),
            "cascade": {
                **_figures(cascade_report),
                "sent_to_llm_share": round(float((~skip).mean()), 3) if len(skip) else 0.0,
            },
            "llm_recall_high_critical": round(llm_report.high_critical_recall, 3),
            "llm_precision_high_critical": round(llm_report.high_critical_precision, 3),
            "seconds": round(time.perf_counter() - began, 2),
            **usage_meta,
        }
    )


llm_eval_job = dg.define_asset_job(
    "llm_eval_job",
    selection=dg.AssetSelection.assets("llm_eval"),
    description="Measure the LLM and the cascade on labeled messages (cached: repeats are free).",
)

llm_eval_weekly = dg.ScheduleDefinition(
    name="llm_eval_weekly",
    job=llm_eval_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="llm_eval every Monday 06:00 UTC (off by default: it spends tokens on new rows).",
)
