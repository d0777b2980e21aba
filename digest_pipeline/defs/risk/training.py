"""Training the risk model honestly: every figure comes from messages the model did not train on.

1. **Hold sources out.** The labeled sources (a company's messages, the project's own set, the
   team's file, people's feedback) are dealt into at most :data:`MAX_FOLDS` folds; each fold is
   scored by heads fitted on the other folds, so no source is ever scored by a model that saw
   any of its messages. LLM verdicts are training rows only, never a test set. With fewer than
   two sources, three random folds.
2. **Calibrate** each head (Platt) on those out-of-source scores.
3. **Pick the cut-offs** on the same out-of-source probabilities (:func:`pick_thresholds`).
4. **Fit the final model** on every row; its card carries the out-of-source figures, per source.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.model_selection import KFold

from digest_pipeline.contract.enumerations import LEVELS
from digest_pipeline.defs.risk.features import Featurizer
from digest_pipeline.defs.risk.labels import LabeledMessage
from digest_pipeline.defs.risk.model import (
    HEAD_RANK,
    HEADS,
    LEVEL_HEADS,
    Calibrator,
    ModelParams,
    RiskModel,
    Thresholds,
    calibrated,
    calibration_input,
    fit_featurizer,
    fit_heads,
    model_version,
)

# A source smaller than this is folded into the others for cross-validation (its rows still
# train every fold and the final model).
MIN_SOURCE_ROWS = 30
TRAIN_ONLY_SOURCES = frozenset({"llm"})
# Each fold is a fit of every head: more folds cost time, fewer train on less. Six folds of ~17
# sources train each fold on ~83% of the rows.
MAX_FOLDS = 6
# Folds are fitted in parallel processes (joblib): two cores, two folds at a time.
CV_JOBS = min(2, os.cpu_count() or 1)

Progress = Callable[[str], None]


@dataclass
class OutOfSource:
    """Out-of-source raw scores and side predictions for every evaluable row, and the
    featurizer fitted on every row's text (the final model reuses it)."""

    index: np.ndarray  # row positions in the training rows
    fold: list[str]  # the source of each row (or its random fold's name): figures are per source
    scores: dict[str, np.ndarray]
    categories: list[str]
    method: str
    featurizer: Featurizer
    X: sp.csr_matrix


def _folds(rows: Sequence[LabeledMessage]) -> tuple[list[np.ndarray], list[str], str]:
    """(test row positions of each fold, the name each row's figures go under, method)."""
    counts: dict[str, int] = {}
    for row in rows:
        if row.source not in TRAIN_ONLY_SOURCES:
            counts[row.source] = counts.get(row.source, 0) + 1
    sources = sorted(s for s, n in counts.items() if n >= MIN_SOURCE_ROWS)
    names = [r.source for r in rows]
    if len(sources) >= 2:
        k = min(len(sources), MAX_FOLDS)
        fold_of = {source: i % k for i, source in enumerate(sources)}
        folds = [
            np.array([i for i, r in enumerate(rows) if fold_of.get(r.source) == f])
            for f in range(k)
        ]
        how = "leave one source out" if k == len(sources) else f"sources held out in {k} folds"
        return folds, names, f"{how} ({len(sources)} sources)"
    evaluable = np.array([i for i, r in enumerate(rows) if r.source not in TRAIN_ONLY_SOURCES])
    splitter = KFold(n_splits=3, shuffle=True, random_state=0)
    folds = [evaluable[test] for _, test in splitter.split(evaluable)]
    for k, test in enumerate(folds, start=1):
        for i in test:
            names[i] = f"fold-{k}"
    return folds, names, "3 random folds (fewer than two sources)"


def _score_fold(
    featurizer: Featurizer,
    X_all: sp.csr_matrix,
    rows: Sequence[LabeledMessage],
    train: np.ndarray,
    test: np.ndarray,
    params: ModelParams,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Heads fitted on ``train``; their raw scores and categories for ``test``."""
    parts = fit_heads(
        featurizer, X_all[train], [rows[i] for i in train], params, with_attention=False
    )
    X = X_all[test]
    return parts.scores(X), parts.categories(X)


def out_of_source(
    rows: Sequence[LabeledMessage], params: ModelParams, progress: Progress | None = None
) -> OutOfSource:
    """Every evaluable row scored by heads that never saw its source.

    The vectorizers are fitted once on every row's *text* (no label is involved): a word that
    only the held-out source uses gets no weight, since no training row carries it.
    """
    folds, names, method = _folds(rows)
    featurizer, X_all = fit_featurizer(rows)
    index: list[np.ndarray] = []
    fold_names: list[str] = []
    scores: dict[str, list[np.ndarray]] = {name: [] for name in HEADS}
    categories: list[str] = []
    jobs = min(CV_JOBS, len(folds))
    if progress:
        progress(f"cross-validation: {method}, {len(folds)} folds on {jobs} process(es)")
    every = np.arange(len(rows))
    # joblib is untyped: Parallel() returns the list of each call's result (no generator
    # was asked for), which pyright cannot infer.
    results = cast(
        list[tuple[dict[str, np.ndarray], list[str]]],
        Parallel(n_jobs=jobs)(
            delayed(_score_fold)(featurizer, X_all, rows, np.setdiff1d(every, test), test, params)
            for test in folds
        ),
    )
    for test, (fold_scores, fold_categories) in zip(folds, results, strict=True):
        for head, values in fold_scores.items():
            scores[head].append(values)
        categories += fold_categories
        index.append(test)
        fold_names += [names[i] for i in test]
    return OutOfSource(
        index=np.concatenate(index) if index else np.zeros(0, dtype=int),
        fold=fold_names,
        scores={h: np.concatenate(v) if v else np.zeros(0) for h, v in scores.items()},
        categories=categories,
        method=method,
        featurizer=featurizer,
        X=X_all,
    )


def _best_f_threshold(p: np.ndarray, truth: np.ndarray, beta: float = 1.0) -> float:
    """The cut-off with the best F-beta on ``truth`` (beta > 1 favours recall)."""
    best, best_t = -1.0, 0.5
    b2 = beta * beta
    for t in np.unique(p):
        predicted = p >= t
        tp = float((predicted & truth).sum())
        if tp == 0:
            continue
        score = (1 + b2) * tp / (predicted.sum() + b2 * truth.sum())
        if score > best:
            best, best_t = score, float(t)
    return best_t


def _recall_threshold(p: np.ndarray, truth: np.ndarray, target: float) -> float:
    """The highest cut-off that still catches ``target`` of ``truth``."""
    positives = np.sort(p[truth])[::-1]
    if not len(positives):
        return 0.5
    return float(positives[max(int(np.ceil(target * len(positives))) - 1, 0)])


def _median_over_folds(
    p: np.ndarray, truth: np.ndarray, folds: Sequence[str], cut: Callable[..., float]
) -> float:
    """The median over held-out sources of each source's own cut-off: one source whose scores
    sit apart (another company's style) moves it less than pooling would."""
    fold_array = np.array(folds)
    cuts = [
        cut(p[fold_array == name], truth[fold_array == name])
        for name in dict.fromkeys(folds)
        if truth[fold_array == name].any()
    ]
    return float(np.median(cuts)) if cuts else 0.5


def pick_thresholds(
    p: dict[str, np.ndarray], ranks: np.ndarray, folds: Sequence[str], params: ModelParams
) -> tuple[Thresholds, dict[str, Any]]:
    """Cut-offs from out-of-source probabilities, and what they cost there."""
    risky = ranks >= 2
    ge_high = _median_over_folds(
        p["ge_high"], risky, folds, partial(_recall_threshold, target=params.high_recall_target)
    )
    ge_medium = min(
        _median_over_folds(p["ge_medium"], ranks >= 1, folds, _best_f_threshold), ge_high
    )
    critical = max(_median_over_folds(p["critical"], ranks == 3, folds, _best_f_threshold), ge_high)
    # The LLM cascade: skip only what is below (almost) every labeled risky message.
    risky_p = np.sort(p["ge_medium"][risky])
    allowed = int(np.floor(params.llm_skip_max_risky_share * len(risky_p)))
    llm_skip = float(risky_p[allowed]) if len(risky_p) else 0.0
    skipped_risky = int((p["ge_medium"][risky] < llm_skip).sum())
    # The critical floor: the lowest P(critical) cut-off whose flagged rows are at least high
    # with the target precision (at least 5 rows flagged), else never.
    floor, floor_precision, floor_support = 1.01, None, 0
    for t in np.sort(np.unique(p["critical"])):
        flagged = p["critical"] >= t
        if flagged.sum() < 5:
            break
        precision = float(risky[flagged].mean())
        if precision >= params.floor_precision_target:
            floor, floor_precision, floor_support = float(t), precision, int(flagged.sum())
            break
    thresholds = Thresholds(ge_medium, ge_high, critical, llm_skip, floor)
    cascade = {
        "llm_skip_below_p_ge_medium": round(llm_skip, 4),
        "share_sent_to_llm": round(float((p["ge_medium"] >= llm_skip).mean()), 4)
        if len(p["ge_medium"])
        else 0.0,
        "risky_skipped": skipped_risky,
        "risky_total": int(risky.sum()),
        "critical_floor_p": round(floor, 4),
        "critical_floor_precision": None if floor_precision is None else round(floor_precision, 4),
        "critical_floor_support": floor_support,
    }
    return thresholds, cascade


def _levels(p: dict[str, np.ndarray], t: Thresholds) -> np.ndarray:
    return np.where(
        p["ge_medium"] >= t.ge_medium,
        np.where(p["ge_high"] >= t.ge_high, np.where(p["critical"] >= t.critical, 3, 2), 1),
        0,
    )


def figures(
    predicted: np.ndarray,
    truth: np.ndarray,
    categories: Sequence[str] = (),
    gold_categories: Sequence[str | None] = (),
) -> dict[str, Any]:
    """Recall and precision on high+critical, accuracy, the confusion matrix, category accuracy."""
    risky, flagged = truth >= 2, predicted >= 2
    tp = int((risky & flagged).sum())
    confusion = {
        gold: {pred: int(((truth == g) & (predicted == q)).sum()) for q, pred in enumerate(LEVELS)}
        for g, gold in enumerate(LEVELS)
    }
    scored = [
        (c, g)
        for c, g, rank in zip(categories, gold_categories, truth, strict=False)
        if g not in (None, "none") and rank >= 1
    ]
    return {
        "rows": len(truth),
        "high_critical": int(risky.sum()),
        "recall_high_critical": round(tp / risky.sum(), 4) if risky.sum() else None,
        "precision_high_critical": round(tp / flagged.sum(), 4) if flagged.sum() else None,
        "accuracy": round(float((predicted == truth).mean()), 4) if len(truth) else None,
        "within_one_level": round(float((np.abs(predicted - truth) <= 1).mean()), 4)
        if len(truth)
        else None,
        "category_accuracy": round(sum(c == g for c, g in scored) / len(scored), 4)
        if scored
        else None,
        "confusion": confusion,
    }


def train_risk_model(
    rows: Sequence[LabeledMessage],
    params: ModelParams | None = None,
    *,
    progress: Progress | None = None,
) -> RiskModel:
    """Cross-validate by source, calibrate, pick cut-offs, fit on everything; deterministic."""
    params = params or ModelParams()
    if len({r.risk_level for r in rows}) < 4:
        raise ValueError("training needs labeled rows of every level (low, medium, high, critical)")
    started = time.perf_counter()
    rows = list(rows)
    ranks = np.array([LEVELS.index(r.risk_level) for r in rows])
    oos = out_of_source(rows, params, progress)
    truth = ranks[oos.index]
    calibrators = {
        level: Calibrator.fit(calibration_input(oos.scores, level), truth >= HEAD_RANK[level])
        for level in LEVEL_HEADS
    }
    p = calibrated(oos.scores, calibrators)
    thresholds, cascade = pick_thresholds(p, truth, oos.fold, params)
    predicted = _levels(p, thresholds)
    gold_categories = [rows[i].risk_category for i in oos.index]
    per_source = {}
    for source in dict.fromkeys(oos.fold):
        mask = np.array([f == source for f in oos.fold])
        per_source[source] = figures(
            predicted[mask],
            truth[mask],
            [c for c, m in zip(oos.categories, mask, strict=True) if m],
            [g for g, m in zip(gold_categories, mask, strict=True) if m],
        )
    if progress:
        progress(f"fitting the final model on {len(rows)} rows")
    parts = fit_heads(oos.featurizer, oos.X, rows, params)
    by_source: dict[str, int] = {}
    for row in rows:
        by_source[row.source] = by_source.get(row.source, 0) + 1
    card = {
        "training_rows": len(rows),
        "training_rows_by_source": dict(sorted(by_source.items())),
        "params": params.as_dict(),
        "thresholds": thresholds.as_dict(),
        "cross_validation": {
            "method": oos.method,
            "pooled": figures(predicted, truth, oos.categories, gold_categories),
            "per_source": per_source,
        },
        "llm_cascade": cascade,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    model = RiskModel(model_version(rows, params), parts, calibrators, thresholds, card)
    card["strongest_features"] = model.strongest_features()
    # Plain JSON values only (no numpy scalars): the card goes to metadata, tables and files.
    model.card = json.loads(json.dumps(card, default=lambda v: v.item()))
    return model


# ------------------------------------------------------------------------------------------------
# The card as Markdown (the UI's metadata, ``digest-eval --cv``, the README)


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def cross_validation_table(card: dict[str, Any]) -> str:
    """Out-of-source figures, one row per held-out source and one pooled."""
    cv = card["cross_validation"]
    rows = [
        (
            source,
            f["rows"],
            f["high_critical"],
            f["recall_high_critical"],
            f["precision_high_critical"],
            f["accuracy"],
            f["category_accuracy"],
        )
        for source, f in [*sorted(cv["per_source"].items()), ("all (pooled)", cv["pooled"])]
    ]
    header = ("held-out source", "rows", "high+critical", "recall h+c", "precision h+c")
    return _markdown_table((*header, "accuracy", "category acc."), rows)


def confusion_table(card: dict[str, Any]) -> str:
    confusion = card["cross_validation"]["pooled"]["confusion"]
    return _markdown_table(
        ("labeled \\ predicted", *LEVELS),
        [(gold, *(confusion[gold][p] for p in LEVELS)) for gold in LEVELS],
    )


def render_card(model: RiskModel) -> str:
    card = model.card
    cascade = card["llm_cascade"]
    return "\n\n".join(
        [
            f"{card['cross_validation']['method']}, {card['training_rows']} rows",
            cross_validation_table(card),
            confusion_table(card),
            f"LLM cascade: {cascade['share_sent_to_llm']:.0%} of labeled messages sent, "
            f"{cascade['risky_skipped']} of {cascade['risky_total']} high+critical skipped; "
            f"critical floor precision {cascade['critical_floor_precision']} "
            f"(n={cascade['critical_floor_support']})",
        ]
    )
