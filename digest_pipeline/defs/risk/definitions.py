"""Score: the labels, the learned risk model, ``risk_assessments`` and their checks."""

import dagster as dg

from digest_pipeline.defs.risk import assets, batch, llm_eval, model_assets
from digest_pipeline.defs.risk.checks import build_scorer_eval_check
from digest_pipeline.defs.risk.resources import build_risk_scorer
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.settings import Settings


def build_defs(settings: Settings) -> dg.Definitions:
    # The LLM's on-demand evaluation exists only where there is an LLM to measure.
    with_llm = settings.effective_scorer == "llm"
    return dg.Definitions(
        assets=[
            *dg.load_assets_from_modules([assets, model_assets]),
            *([llm_eval.llm_eval] if with_llm else []),
        ],
        asset_checks=[
            *dg.load_asset_checks_from_modules([assets]),
            build_scorer_eval_check(settings.effective_scorer),
        ],
        jobs=[model_assets.risk_model_job, *([llm_eval.llm_eval_job] if with_llm else [])],
        schedules=[llm_eval.llm_eval_weekly] if with_llm else [],
        sensors=[model_assets.risk_labels_sensor, *([batch.llm_batch_sensor] if with_llm else [])],
        resources={
            # The llm scorer, llm_eval and the batch sensor call the resource "llm", bound once
            # for every domain in defs/llm/definitions.py.
            "risk_scorer": build_risk_scorer(
                settings.effective_scorer,
                mode=settings.llm_mode,
                batch_messages=settings.llm_batch_size,
            ),
            "risk_model_store": RiskModelStore(
                model_dir=settings.effective_model_dir, labels_path=settings.labels_path
            ),
        },
    )
