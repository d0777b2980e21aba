"""The learned risk model: level (ordinal), category, attention and a calibrated confidence.

Level is ordinal: logistic-regression heads estimate P(level ≥ medium), P(level ≥ high),
P(critical) and, on medium+ messages only, P(high | ≥ medium), on the same features
(:mod:`~digest_pipeline.defs.risk.features`). Each level's score is calibrated (Platt) on
*out-of-source* predictions: the model that scored a company's messages never saw that company
(:mod:`~digest_pipeline.defs.risk.training`). The cut-offs that turn probabilities into levels
come from the same out-of-source predictions and travel with the model, so a model and its
thresholds can never be mixed up.

The fitted model is a dict of scikit-learn objects and plain values, saved with skops (no pickle
from disk): :func:`save_model` / :func:`load_model`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.naive_bayes import ComplementNB

from digest_pipeline.contract.enumerations import CATEGORIES, LEVELS
from digest_pipeline.defs.risk import features
from digest_pipeline.defs.risk.features import Featurizer, has_non_ascii_letter, model_text
from digest_pipeline.defs.risk.labels import LabeledMessage

MODEL_FORMAT = 4
# Below this share of known words (out of source, ~5% of messages: other languages, new jargon)
# the model's "confidently low" is not confident: the LLM sees the message.
MIN_KNOWN_WORD_SHARE = 0.5
# Levels of the ordinal model: P(level >= medium), P(level >= high), P(critical).
LEVEL_HEADS = ("ge_medium", "ge_high", "critical")
# Every fitted head: the level it detects (rank >= target) and the lowest rank of the rows it is
# fitted on. ``high_given_medium`` sees only medium+ rows, so it learns the line the labels call a
# judgment call (a bounded problem with slack vs a threat to a date or a customer) instead of
# spending its weights on chatter vs risk.
HEADS = ("ge_medium", "ge_high", "critical", "high_given_medium")
HEAD_RANK = {"ge_medium": 1, "ge_high": 2, "critical": 3, "high_given_medium": 2}
HEAD_MIN_RANK = {"high_given_medium": 1}
# The heads whose scores each level's calibrator weighs. On held-out sources (the development
# set's two parts never looked at), adding the conditional head to P(>= high) raised the AUC from
# 0.9085 to 0.9093 and, at the same recall target, precision on high+critical from 0.681 to
# 0.695 (mean over 25 sources), without lowering recall by more than a point.
CALIBRATION_INPUTS = {
    "ge_medium": ("ge_medium",),
    "ge_high": ("ge_high", "high_given_medium"),
    "critical": ("critical",),
}
RISK_CATEGORIES = tuple(c for c in CATEGORIES if c != "none")


@dataclass(frozen=True)
class ModelParams:
    """Training parameters: part of the model's version."""

    c: float = 4.0  # inverse regularization of every logistic head
    bayes_alpha: float = 0.3  # smoothing of the naive Bayes beside each level head
    max_iter: int = 3000
    # Cut-offs are picked on out-of-source predictions (see training.py).
    # The high+critical cut-off catches this share of each held-out source's risky messages
    # (median over sources); medium and critical cut-offs maximise F1.
    high_recall_target: float = 0.85
    # The LLM cascade skips messages whose P(level >= medium) is below the cut-off that would
    # skip at most this share of labeled high+critical messages.
    llm_skip_max_risky_share: float = 0.01
    # A critical the model is this precise about is never lowered below high by the LLM.
    floor_precision_target: float = 0.9

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Thresholds:
    ge_medium: float = 0.5
    ge_high: float = 0.5
    critical: float = 0.5
    llm_skip: float = 0.0  # below this P(>= medium): confidently low, no LLM call
    critical_floor: float = 1.01  # at or above this P(critical): the LLM may not go below high

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


@dataclass
class Predictions:
    """Per-message model output, aligned with the input."""

    levels: list[str]
    categories: list[str]
    # The category head's score for each category (empty when no head was fitted): the prior
    # the category engine weighs (:func:`~digest_pipeline.defs.enrichment.classify.category_of`).
    category_scores: list[dict[str, float]]
    attention: list[bool]
    confidence: np.ndarray
    p_ge_medium: np.ndarray
    p_ge_high: np.ndarray
    p_critical: np.ndarray
    llm_skip: np.ndarray  # bool: confidently low
    critical_floor: np.ndarray  # bool: the LLM may not lower below high


def _head(c: float, max_iter: int, balanced: bool = True) -> LogisticRegression:
    # liblinear: 2-4x faster than lbfgs on these sparse, short-text problems, same figures.
    return LogisticRegression(
        C=c,
        class_weight="balanced" if balanced else None,
        max_iter=max_iter,
        solver="liblinear",
        random_state=0,
    )


def _inputs(rows: Sequence[LabeledMessage]) -> tuple[list[str], list[str]]:
    return [model_text(r.text) for r in rows], [model_text(r.thread_context) for r in rows]


def _weights(rows: Sequence[LabeledMessage]) -> np.ndarray:
    return np.array([r.weight for r in rows], dtype=np.float64)


@dataclass
class Calibrator:
    """Platt scaling of a head's two scores (logistic regression, naive Bayes):
    p = 1 / (1 + exp(-(a · scores + b))). Fitted on out-of-source scores, so it also learns how
    much each of the two to trust on messages from a workspace neither saw."""

    a: tuple[float, ...] = (1.0, 0.0)
    b: float = 0.0

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(scores @ np.asarray(self.a) + self.b)))

    @classmethod
    def fit(cls, scores: np.ndarray, truth: np.ndarray) -> Calibrator:
        if truth.min() == truth.max():
            return cls()
        platt = LogisticRegression(C=1e4, max_iter=1000).fit(scores, truth)
        return cls(tuple(float(v) for v in platt.coef_[0]), float(platt.intercept_[0]))


def calibration_input(scores: dict[str, np.ndarray], level: str) -> np.ndarray:
    """The score columns a level's calibrator weighs (see :data:`CALIBRATION_INPUTS`)."""
    return np.hstack([scores[head] for head in CALIBRATION_INPUTS[level]])


def calibrated(
    scores: dict[str, np.ndarray], calibrators: dict[str, Calibrator]
) -> dict[str, np.ndarray]:
    """Each head's scores through its calibrator, made monotone (each at most the one before)."""
    p = {name: calibrators[name](calibration_input(scores, name)) for name in LEVEL_HEADS}
    p["ge_high"] = np.minimum(p["ge_high"], p["ge_medium"])
    p["critical"] = np.minimum(p["critical"], p["ge_high"])
    return p


@dataclass
class FittedParts:
    """The estimators of one fit (the final model, or one cross-validation fold)."""

    featurizer: Featurizer
    heads: dict[str, LogisticRegression]
    category: RidgeClassifier | None
    attention: LogisticRegression | None
    # A naive Bayes beside each level head: it ranks short and terse messages better, the
    # logistic head long ones; the calibrator weighs the two on out-of-source scores.
    bayes: dict[str, ComplementNB] = field(default_factory=dict)

    def scores(self, X: sp.csr_matrix) -> dict[str, np.ndarray]:
        """Each level head's (logistic decision, naive Bayes log-odds), one row per message."""
        out = {}
        for name, head in self.heads.items():
            log_p = self.bayes[name].predict_log_proba(X)
            out[name] = np.column_stack([head.decision_function(X), log_p[:, 1] - log_p[:, 0]])
        return out

    def categories(self, X: sp.csr_matrix) -> list[str]:
        """The best-scoring category (the first one when no category was labeled)."""
        if self.category is None:
            # scipy is untyped: ``shape`` is inferred from a ``None`` default.
            return [RISK_CATEGORIES[0]] * X.shape[0]  # pyright: ignore[reportOptionalSubscript]
        return [str(c) for c in self.category.predict(X)]

    def category_scores(self, X: sp.csr_matrix) -> list[dict[str, float]]:
        """The category head's score for each category, one mapping per row (empty mappings
        when no category was labeled)."""
        if self.category is None:
            return [{} for _ in range(X.shape[0])]  # pyright: ignore[reportOptionalSubscript]
        names = [str(c) for c in self.category.classes_]
        scores = np.asarray(self.category.decision_function(X))
        if scores.ndim == 1:  # two categories: one score, positive for the second
            scores = np.column_stack([-scores, scores])
        return [dict(zip(names, map(float, row), strict=True)) for row in scores]


def fit_featurizer(rows: Sequence[LabeledMessage]) -> tuple[Featurizer, sp.csr_matrix]:
    """The vectorizers fitted on ``rows``' texts (no labels involved), and their features."""
    texts, parents = _inputs(rows)
    featurizer = Featurizer.new().fit(texts, parents)
    return featurizer, featurizer.transform(texts, parents)


def fit_heads(
    featurizer: Featurizer,
    X: sp.csr_matrix,
    rows: Sequence[LabeledMessage],
    params: ModelParams,
    *,
    with_attention: bool = True,
) -> FittedParts:
    """Every head fitted on ``X`` (the features of ``rows``, in order); cross-validation folds
    skip the attention head (no figure needs it)."""
    weights = _weights(rows)
    ranks = np.array([LEVELS.index(r.risk_level) for r in rows])
    heads, bayes = {}, {}
    for name in HEADS:
        X_fit, w_fit, y = X, weights, ranks >= HEAD_RANK[name]
        if name in HEAD_MIN_RANK:
            fit_on = np.flatnonzero(ranks >= HEAD_MIN_RANK[name])
            X_fit, w_fit, y = X[fit_on], weights[fit_on], y[fit_on]
        heads[name] = _head(params.c, params.max_iter).fit(X_fit, y, sample_weight=w_fit)
        bayes[name] = ComplementNB(alpha=params.bayes_alpha).fit(X_fit, y, sample_weight=w_fit)
    risky = [
        i
        for i, r in enumerate(rows)
        if r.risk_level != "low" and r.risk_category in RISK_CATEGORIES
    ]
    category = None
    if len({rows[i].risk_category for i in risky}) >= 2:
        # One ridge fit scores every category (one-vs-rest): ~10x cheaper than a logistic head
        # per category, and the category needs a ranking, not a probability.
        category = RidgeClassifier(alpha=1.0 / params.c, solver="sparse_cg").fit(
            X[risky], [rows[i].risk_category for i in risky], sample_weight=weights[risky]
        )
    labeled = [i for i, r in enumerate(rows) if r.requires_attention is not None]
    attention = None
    if with_attention and len({rows[i].requires_attention for i in labeled}) == 2:
        attention = _head(params.c, params.max_iter).fit(
            X[labeled],
            [bool(rows[i].requires_attention) for i in labeled],
            sample_weight=weights[labeled],
        )
    return FittedParts(featurizer, heads, category, attention, bayes)


def feature_code_digest() -> str:
    """Hash of the code that turns text into features and trains the heads: a change to either
    makes a new model version even on the same labels."""
    digest = hashlib.sha256()
    for module in (features, inspect.getmodule(fit_heads)):
        digest.update(inspect.getsource(module).encode())  # type: ignore[arg-type]
    return digest.hexdigest()


def model_version(rows: Sequence[LabeledMessage], params: ModelParams) -> str:
    """``rm-`` + 12 hex of sha256(training rows, feature code, parameters): deterministic."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: (r.source, r.id, r.text)):
        digest.update(
            json.dumps(
                [
                    row.source,
                    row.id,
                    row.text,
                    row.thread_context,
                    row.risk_level,
                    row.risk_category,
                    row.requires_attention,
                    row.weight,
                ],
                ensure_ascii=False,
            ).encode()
        )
    digest.update(feature_code_digest().encode())
    digest.update(json.dumps(params.as_dict(), sort_keys=True).encode())
    return "rm-" + digest.hexdigest()[:12]


@dataclass
class RiskModel:
    """A trained model, its calibration and cut-offs, and its card (training figures)."""

    version: str
    parts: FittedParts
    calibrators: dict[str, Calibrator]
    thresholds: Thresholds
    card: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, X: sp.csr_matrix) -> dict[str, np.ndarray]:
        """Calibrated P(≥ medium), P(≥ high), P(critical) of featurized messages."""
        return calibrated(self.parts.scores(X), self.calibrators)

    def predict(
        self, texts: Sequence[object], parents: Sequence[object] | None = None
    ) -> Predictions:
        """Level, category, attention and probabilities for each (text, parent). Identical pairs
        (bot alerts, "thanks!") are featurized and scored once."""
        clean = [model_text(t) for t in texts]
        clean_parents = [model_text(p) for p in (parents or [None] * len(clean))]
        unique: dict[tuple[str, str], int] = {}
        back = np.fromiter(
            (
                unique.setdefault(pair, len(unique))
                for pair in zip(clean, clean_parents, strict=True)
            ),
            dtype=np.int64,
            count=len(clean),
        )
        distinct = self._predict_distinct([p[0] for p in unique], [p[1] for p in unique])
        return Predictions(
            levels=[distinct.levels[i] for i in back],
            categories=[distinct.categories[i] for i in back],
            category_scores=[distinct.category_scores[i] for i in back],
            attention=[distinct.attention[i] for i in back],
            confidence=distinct.confidence[back],
            p_ge_medium=distinct.p_ge_medium[back],
            p_ge_high=distinct.p_ge_high[back],
            p_critical=distinct.p_critical[back],
            llm_skip=distinct.llm_skip[back],
            critical_floor=distinct.critical_floor[back],
        )

    def _predict_distinct(self, clean: list[str], clean_parents: list[str]) -> Predictions:
        if not clean:
            empty = np.zeros(0)
            return Predictions(
                [], [], [], [], empty, empty, empty, empty, empty.astype(bool), empty.astype(bool)
            )
        X = self.parts.featurizer.transform(clean, clean_parents)
        p = self.probabilities(X)
        t = self.thresholds
        rank = np.where(
            p["ge_medium"] >= t.ge_medium,
            np.where(p["ge_high"] >= t.ge_high, np.where(p["critical"] >= t.critical, 3, 2), 1),
            0,
        )
        # Probability of the chosen level, from the cumulative heads.
        by_level = np.stack(
            [
                1 - p["ge_medium"],
                p["ge_medium"] - p["ge_high"],
                p["ge_high"] - p["critical"],
                p["critical"],
            ],
            axis=1,
        )
        chosen = by_level[np.arange(len(rank)), rank]
        # Confidence that the verdict is right "enough": the level's own probability, or for
        # high/critical the probability of being at least high (the distinction that acts).
        confidence = np.where(rank >= 2, p["ge_high"], np.where(rank == 0, by_level[:, 0], chosen))
        categories = self.parts.categories(X)
        attention_p = (
            self.parts.attention.predict_proba(X)[:, 1]
            if self.parts.attention is not None
            else np.zeros(len(rank))
        )
        return Predictions(
            levels=[LEVELS[r] for r in rank],
            categories=[c if r > 0 else "none" for c, r in zip(categories, rank, strict=True)],
            category_scores=self.parts.category_scores(X),
            attention=[
                bool(r >= 2 or (r == 1 and a >= 0.5))
                for r, a in zip(rank, attention_p, strict=True)
            ],
            confidence=np.clip(confidence, 0.0, 1.0),
            p_ge_medium=p["ge_medium"],
            p_ge_high=p["ge_high"],
            p_critical=p["critical"],
            llm_skip=p["ge_medium"] < t.llm_skip,
            critical_floor=p["critical"] >= t.critical_floor,
        )

    def llm_skip(self, texts: Sequence[object], predictions: Predictions) -> np.ndarray:
        """Messages the LLM need not see: confidently low, in plain ASCII words, most of which
        the model learned. A message with any letter outside ASCII (another script, a
        Vietnamese or German word, one CJK character after "thanks!") is always sent: the
        labels cover those languages too thinly for the model's "low" to be trusted."""
        clean = [model_text(t) for t in texts]
        share = self.parts.featurizer.known_word_share(clean)
        foreign = np.fromiter(
            (has_non_ascii_letter(t) for t in clean), dtype=bool, count=len(clean)
        )
        return predictions.llm_skip & (share >= MIN_KNOWN_WORD_SHARE) & ~foreign

    def strongest_features(self, head: str = "ge_high", k: int = 15) -> dict[str, list[str]]:
        names = self.parts.featurizer.feature_names()
        coef = self.parts.heads[head].coef_[0]
        order = np.argsort(coef)
        return {
            "toward_risk": [f"{names[i]} ({coef[i]:+.2f})" for i in order[::-1][:k]],
            "away_from_risk": [f"{names[i]} ({coef[i]:+.2f})" for i in order[:k]],
        }


# ------------------------------------------------------------------------------------------------
# Saving and loading with skops


def _as_state(model: RiskModel) -> dict[str, Any]:
    parts = model.parts
    return {
        "format": MODEL_FORMAT,
        "version": model.version,
        "featurizer": parts.featurizer.to_state(),
        "heads": parts.heads,
        "bayes": parts.bayes,
        "category": parts.category,
        "attention": parts.attention,
        "calibrators": {k: [*c.a, c.b] for k, c in model.calibrators.items()},
        "thresholds": {k: float(v) for k, v in model.thresholds.__dict__.items()},
        "card": json.dumps(model.card, sort_keys=True),
    }


def save_model(model: RiskModel, path: Path) -> Path:
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    # A name per process and thread: two runs saving the same version never share a temp file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    sio.dump(_as_state(model), tmp)
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path


# What a model file may contain beyond skops's defaults: scikit-learn's own types and numpy's.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.")


class ModelFileError(RuntimeError):
    """A model file that cannot be trusted or read."""


def load_model(path: Path) -> RiskModel:
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:  # a truncated or foreign file
        raise ModelFileError(f"{path.name}: not a readable skops file ({type(e).__name__})") from e
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelFileError(f"{path.name}: refuses to load types {refused[:5]}")
    state = sio.load(path, trusted=untrusted)
    if state.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path.name}: model format {state.get('format')} is not supported")
    parts = FittedParts(
        Featurizer.from_state(state["featurizer"]),
        dict(state["heads"]),
        state["category"],
        state["attention"],
        dict(state["bayes"]),
    )
    return RiskModel(
        version=str(state["version"]),
        parts=parts,
        calibrators={
            k: Calibrator(tuple(float(x) for x in v[:-1]), float(v[-1]))
            for k, v in state["calibrators"].items()
        },
        thresholds=Thresholds(**{k: float(v) for k, v in state["thresholds"].items()}),
        card=json.loads(state["card"]),
    )
