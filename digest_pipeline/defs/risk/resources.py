"""``RiskScorer``: the judgement ``risk_assessments`` stores, one implementation a scorer.

* :class:`RulesScorer`: the regex rules (``DIGEST_SCORER=rules``);
* :class:`ModelScorer`: the learned risk model, the rules explaining its verdicts;
* :class:`LLMScorer`: the model, then the LLM where the model is not confidently low, the model's
  verdict kept wherever the LLM fails. Its calls go through the code location's one
  :class:`~digest_pipeline.defs.llm.resources.LLMResource` (the resource ``llm``, which
  ``risk_assessments`` hands it in the :class:`~digest_pipeline.defs.risk.scoring.Partition`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar

import dagster as dg
import pandas as pd
from pydantic import Field

from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.risk.batch import COLLECT_TAG, MODE_TAG
from digest_pipeline.defs.risk.llm import LLMConfig
from digest_pipeline.defs.risk.model import Predictions, RiskModel
from digest_pipeline.defs.risk.scoring import (
    RULES_VERSION,
    LLMJudge,
    Partition,
    Scored,
    model_assessments,
    score_with_llm,
)
from digest_pipeline.settings import DEFAULT_LLM_BATCH_SIZE, LLM_MODES


class RiskScorer(dg.ConfigurableResource, ABC):
    """Judges a partition's messages, given the rules' assessments of them."""

    kind: ClassVar[str]  # the ``scorer`` in the asset's metadata: rules, model or llm

    @abstractmethod
    def assess(self, part: Partition) -> Scored:
        """The partition's messages as this scorer judges them."""


class RulesScorer(RiskScorer):
    """The regex rules' assessments, as they are."""

    kind: ClassVar[str] = "rules"

    def assess(self, part: Partition) -> Scored:
        return Scored(part.rules, RULES_VERSION)


class ModelScorer(RiskScorer):
    """The learned risk model's verdicts, the rules as their explanation."""

    kind: ClassVar[str] = "model"

    def assess(self, part: Partition) -> Scored:
        if not len(part.rules):
            return Scored(part.rules, RULES_VERSION)
        model = part.model_store.current(part.context.log)
        frame, predictions = model_assessments(
            part.rules,
            part.messages["content"].tolist(),
            part.contexts.tolist(),
            model,
            channels=part.messages["channel"].tolist(),
        )
        return self.refine(part, frame, predictions, model)

    def refine(
        self, part: Partition, frame: pd.DataFrame, predictions: Predictions, model: RiskModel
    ) -> Scored:
        """The model's ``frame`` as stored; a scorer built on the model judges it further."""
        return Scored(frame, model.version)


class LLMScorer(ModelScorer):
    """The risk model, then the LLM for what the model is not confidently low on."""

    kind: ClassVar[str] = "llm"

    mode: str = Field(
        default="sync",
        description="sync, or batch (OpenAI Batch API: half price, answers within 24 h)",
    )
    batch_deadline_hours: float = Field(
        default=24.0, description="Cancel a batch still running this long after submission"
    )
    batch_messages: int = Field(default=DEFAULT_LLM_BATCH_SIZE, description="Messages a request")

    def llm_config(self, llm: LLMResource) -> LLMConfig:
        """How this scorer packs its requests to ``llm``'s model (the limits are ``llm``'s)."""
        return LLMConfig(model=llm.model, batch_messages=self.batch_messages)

    def run_mode(self, tags: Mapping[str, str]) -> str:
        """``sync``, ``batch`` (submit to the Batch API) or ``collect`` (a run the batch sensor
        requested: read the cache, submit nothing); a run tag ``digest/llm_mode`` overrides
        ``mode`` for one run (a backfill in batch mode while hourly runs stay live)."""
        if tags.get(COLLECT_TAG):
            return "collect"
        mode = tags.get(MODE_TAG) or self.mode
        if mode not in LLM_MODES:
            raise dg.Failure(f"LLM mode {mode!r} is not one of {LLM_MODES}")
        return mode

    def refine(
        self, part: Partition, frame: pd.DataFrame, predictions: Predictions, model: RiskModel
    ) -> Scored:
        if not part.llm.enabled:
            raise dg.Failure(
                "the llm risk scorer needs an enabled LLMResource: set OPENAI_API_KEY (or "
                "OPENAI_BASE_URL for a local server)"
            )
        judge = LLMJudge(
            part.llm,
            self.llm_config(part.llm),
            self.run_mode(part.context.run.tags),
            self.batch_deadline_hours,
        )
        frame, metadata = score_with_llm(part, frame, predictions, model, judge)
        return Scored(frame, model.version, metadata)


SCORERS: dict[str, type[RiskScorer]] = {
    scorer.kind: scorer for scorer in (ModelScorer, LLMScorer, RulesScorer)
}


def build_risk_scorer(kind: str, *, mode: str = "sync", batch_messages: int) -> RiskScorer:
    """The scorer ``DIGEST_SCORER`` names (resolved: model, llm or rules); the llm scorer calls
    the resource ``llm``."""
    if kind not in SCORERS:
        raise dg.Failure(f"risk scorer kind {kind!r} is not one of {tuple(SCORERS)}")
    if kind != "llm":
        return SCORERS[kind]()
    return LLMScorer(mode=mode, batch_messages=batch_messages)
