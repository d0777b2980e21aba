"""The featurizer's fast path (distinct texts once, character n-grams per distinct word) computes
the very matrix that the scikit-learn vectorizers' own ``transform`` computes: same features,
same probabilities, to the bit."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from digest_pipeline.defs.risk import features
from digest_pipeline.defs.risk.features import (
    PARENT_WEIGHT,
    SIGNAL_WEIGHT,
    Featurizer,
    model_text,
    structural_signals,
)
from digest_pipeline.defs.risk.labels import load_packaged
from digest_pipeline.defs.risk.model import ModelParams, fit_heads

# Whitespace of every kind (no-break, ideographic, separators, form feed), scripts without
# spaces, case mappings that change length ("İ".lower() is two characters), one-letter words
# (shorter than the n-grams), a word longer than any n-gram, emoji and an empty text.
ODD_TEXTS = [
    "Ünïcode\u00a0nbsp\u3000ideographic\x1cfile-sep x\u2028line-sep",
    "tab\tnew\nline\r\x0b\x0c\x85end  double  space ",
    "物料短缺\uff0c停线 PMIC 缺货",
    "ǅ ß İstanbul ﬁnal ΣΑΣ",
    "a I b",
    "x" * 60,
    ":fire: 🔥 <@U123> https://example.com/a?b=c",
    "",
    "   ",
]


def reference_features(featurizer: Featurizer, texts: list[str], parents: list[str]):
    """What ``Featurizer.transform`` computed before the fast path: each vectorizer's own
    ``transform`` on every row."""
    return sp.hstack(
        [
            featurizer.word.transform(texts),
            featurizer.char.transform(texts),
            PARENT_WEIGHT * featurizer.parent.transform(parents),
            SIGNAL_WEIGHT
            * featurizer.signals.transform(
                [structural_signals(t, p) for t, p in zip(texts, parents, strict=True)]
            ),
        ],
        format="csr",
        dtype=np.float32,
    )


def assert_same_matrix(fast: sp.csr_matrix, reference: sp.csr_matrix) -> None:
    assert fast.shape == reference.shape
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name), name)
        assert getattr(fast, name).dtype == getattr(reference, name).dtype, name


@pytest.fixture(scope="module")
def packaged() -> tuple[Featurizer, list[str], list[str]]:
    rows = load_packaged().rows
    texts = [model_text(r.text) for r in rows]
    parents = [model_text(r.thread_context) for r in rows]
    return Featurizer.new().fit(texts, parents), texts, parents


def test_fast_features_equal_the_vectorizers_own_on_the_packaged_labels(packaged):
    featurizer, texts, parents = packaged
    # The labels as they are, odd texts, and repeated texts under other parents and none.
    texts = [*texts, *ODD_TEXTS, *texts[:300], *texts[300:600]]
    parents = [*parents, *[""] * len(ODD_TEXTS), *texts[600:900], *[""] * 300]
    assert any(parents) and len(set(texts)) < len(texts)
    reference = reference_features(featurizer, texts, parents)
    assert_same_matrix(featurizer.transform(texts, parents), reference)
    # Again, with every word's n-grams remembered from the first call.
    assert_same_matrix(featurizer.transform(texts, parents), reference)


def test_a_fitted_model_gives_the_same_probabilities_through_either_path(packaged):
    featurizer, texts, parents = packaged
    rows = load_packaged().rows[::10]  # heads fitted on a tenth of the labels: quick, enough
    X = reference_features(featurizer, texts[::10], parents[::10])
    parts = fit_heads(featurizer, X, rows, ModelParams(), with_attention=False)
    new = parts.scores(featurizer.transform(texts[::10], parents[::10]))
    old = parts.scores(X)
    for head in old:
        np.testing.assert_array_equal(new[head], old[head])


def test_forgetting_remembered_words_changes_nothing(packaged, monkeypatch):
    featurizer, texts, _ = packaged
    fresh = Featurizer(featurizer.word, featurizer.char, featurizer.parent, featurizer.signals)
    monkeypatch.setattr(features, "MAX_REMEMBERED_WORDS", 50)
    batches = [texts[i : i + 40] for i in range(0, 400, 40)]
    for batch in batches:
        assert_same_matrix(
            fresh.transform(batch, [""] * len(batch)),
            reference_features(featurizer, batch, [""] * len(batch)),
        )
        words = {w for text in batch for w in text.lower().split()}
        assert len(fresh.char_counts()._indices) <= max(50, len(words))


def test_a_pickled_featurizer_leaves_its_remembered_words_behind(packaged):
    featurizer, texts, _ = packaged
    featurizer.transform(texts[:20], [""] * 20)
    assert featurizer.char_counts()._indices  # words remembered...
    copy = pickle.loads(pickle.dumps(featurizer))
    assert copy._char_counts is None  # ...but not shipped to other processes
    assert_same_matrix(
        copy.transform(texts[:20], [""] * 20), featurizer.transform(texts[:20], [""] * 20)
    )
