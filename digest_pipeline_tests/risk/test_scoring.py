"""Risk categories of the model's rows: the category engine, with the model's category scores as
its prior on the rows the model finds risky."""

import numpy as np
import pandas as pd

from digest_pipeline.defs.risk.model import Predictions
from digest_pipeline.defs.risk.scoring import informed_categories


def _predictions(levels: list[str], scores: list[dict[str, float]]) -> Predictions:
    n = len(levels)
    zeros = np.zeros(n)
    return Predictions(
        levels=levels,
        categories=[max(s, key=s.__getitem__) if s else "none" for s in scores],
        category_scores=scores,
        attention=[False] * n,
        confidence=zeros,
        p_ge_medium=zeros,
        p_ge_high=zeros,
        p_critical=zeros,
        llm_skip=zeros.astype(bool),
        critical_floor=zeros.astype(bool),
    )


def test_risky_rows_weigh_the_models_prior_and_low_rows_keep_the_messages_category():
    texts = ["we are blocked, need an answer today"] * 3 + ["PO approved"]
    rules = pd.DataFrame({"message_category": ["none", "none", "none", "financial"]})
    prior = {"engineering_design": 0.6, "supply_chain": 0.1}
    predictions = _predictions(["high", "low", "medium", "low"], [prior, prior, {}, prior])
    categories = informed_categories(rules, texts, ["general"] * 4, [None] * 4, predictions)
    # Risky with a prior: the engine with the prior. Low: the message's category (none here).
    # Risky without one (no category head): the message's category, else the model's guess.
    assert categories == ["engineering_design", "none", "none", "financial"]
