"""The learned model's verdict on a partition, with the rules as its explanation.

The model decides level, category, attention and confidence. The rules scorer still reads every
message, but only to *explain*: when it found a signal, its description (with the figures it
extracted: "lead time 12 → 52 weeks", "yield 81% vs 97% target") describes the row; when it found
none, the description names the category the model chose and the message's subject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from digest_pipeline.defs.enrichment.taxonomy import CATEGORY_LABELS
from digest_pipeline.defs.risk.model import Predictions, RiskModel
from digest_pipeline.defs.risk.models import one_line
from digest_pipeline.defs.risk.playbook import mitigations
from digest_pipeline.defs.risk.rules import NO_RISK_DESCRIPTION, subject_of

MODEL_SCORER = "model"


def _description(level: str, category: str, rules_level: str, rules_text: str, text: str) -> str:
    if level == "low":
        # The rules' "Resolved: ..." or "Low: ..." reading still says why it is low.
        return rules_text if rules_level == "low" else NO_RISK_DESCRIPTION
    if rules_level != "low":
        return rules_text
    subject = subject_of(text)
    label = CATEGORY_LABELS.get(category, "Business")
    return one_line(f"{label} risk" + (f" on {subject}" if subject else ""))


def model_assessments(
    rules: pd.DataFrame,
    texts: Sequence[object],
    contexts: Sequence[object],
    model: RiskModel,
) -> tuple[pd.DataFrame, Predictions]:
    """``rules`` (contract-shaped rows, one per message, same order as ``texts``) with the model's
    verdict in place of the rules' one; ``rules_risk_level`` keeps the rules' level."""
    predictions = model.predict(texts, contexts)
    frame = rules.copy()
    if frame.empty:
        return frame, predictions
    rules_levels = frame["risk_level"].tolist()
    descriptions = frame["description"].tolist()
    frame["rules_risk_level"] = rules_levels
    frame["risk_level"] = predictions.levels
    frame["risk_category"] = predictions.categories
    frame["description"] = [
        _description(
            level, category, rules_level, rules_text, text if isinstance(text, str) else ""
        )
        for level, category, rules_level, rules_text, text in zip(
            predictions.levels,
            predictions.categories,
            rules_levels,
            descriptions,
            texts,
            strict=True,
        )
    ]
    frame["confidence_score"] = np.round(predictions.confidence.astype(float), 3)
    frame["mitigation_suggestions"] = [
        json.dumps(mitigations(c, level))
        for c, level in zip(predictions.categories, predictions.levels, strict=True)
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
