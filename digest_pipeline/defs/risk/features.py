"""What the risk model reads of a message: its words, its characters, its thread parent, signals.

* word 1-2-grams of the message (TF-IDF, sublinear),
* character 2-5-grams inside word boundaries: abbreviations, typos, inflections and scripts
  without spaces (Chinese, Japanese) share pieces with the words the model has seen,
* the thread parent's words, in their own namespace and at half weight: "pushed to wk 14" means
  little without "committed ship date wk 10" above it,
* a few structural signals the rules extract (:func:`structural_signals`): figures (weeks, %,
  money), reply, bot-like status post, resolution and negation markers.

The vectorizers are plain scikit-learn objects (no custom callables) so that a fitted model can be
saved and loaded with skops without trusting arbitrary code. Text is capped at
:data:`MAX_MODEL_CHARS` before featurizing: a pasted log costs no more than a paragraph.

Scoring computes exactly what the vectorizers' ``transform`` computes, with less Python per
message: each distinct text is featurized once (a reply and its parent-less copy share their word
and character blocks), and the character n-grams, which never cross a word boundary, are looked
up once per distinct word (:class:`WordBoundedCharCounts`): a message's counts are then one sparse
product of its word counts and its words' n-gram counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise, repeat
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

MAX_MODEL_CHARS = 1_000
PARENT_WEIGHT = 0.5
SIGNAL_WEIGHT = 0.5
# Distinct words whose n-grams are remembered between calls (~200 bytes each): a workspace's
# vocabulary fits; a stream of one-off tokens (hashes, ids) empties the memory now and then.
MAX_REMEMBERED_WORDS = 200_000

_MONEY = re.compile(r"[$€£¥]\s?\d|\d\s?(?:k|m|mm|usd|eur)\b", re.IGNORECASE)
_PERCENT = re.compile(r"\d\s?%")
_WEEKS = re.compile(r"\d+\s?(?:weeks?|wks?|w)\b|\bww\s?\d+|\bwk\s?\d+", re.IGNORECASE)
_DAYS = re.compile(r"\d+\s?(?:days?|d|hrs?|hours?)\b", re.IGNORECASE)
_QUANTITY = re.compile(r"\d[\d,.]*\s?(?:k\s)?(?:units?|pcs|pieces|pallets|boards|reels)\b", re.I)
# Every figure needs a digit: one scan for a digit spares five in most chatter.
_DIGIT = re.compile(r"\d")
_FIGURES = (
    ("money", _MONEY),
    ("percent", _PERCENT),
    ("weeks", _WEEKS),
    ("days", _DAYS),
    ("quantity", _QUANTITY),
)
_BROADCAST = re.compile(r"@(?:here|channel|everyone)\b|<!(?:here|channel|everyone)>")
_STATUS_POST = re.compile(r"^\s*(?:\[[^\]]{1,40}\]|[A-Z][A-Z0-9 _-]{2,30}:)")
# Not words of a language: emoji shortcodes, Slack links and mentions, URLs, @names.
_NOT_WORDS = re.compile(r":[a-z0-9_+'-]+:|<[^>\s]*>|https?://\S+|@[\w.-]+")


def has_non_ascii_letter(text: str) -> bool:
    """A letter outside ASCII (any script, or a Latin letter with a diacritic); emoji and
    punctuation do not count."""
    return not text.isascii() and any(ch.isalpha() and not ch.isascii() for ch in text)


def model_text(text: object) -> str:
    """The message as the model reads it (a string, at most :data:`MAX_MODEL_CHARS`, without
    NUL characters: a saved vocabulary is NUL-separated)."""
    return text[:MAX_MODEL_CHARS].replace("\x00", " ") if isinstance(text, str) else ""


def structural_signals(text: str, parent: str) -> dict[str, float]:
    """Signals that words alone carry poorly: figures, thread shape, a status-post look."""
    signals: dict[str, float] = {}
    if parent:
        signals["reply"] = 1.0
    if _DIGIT.search(text):
        for name, pattern in _FIGURES:
            if pattern.search(text):
                signals[name] = 1.0
    if "?" in text:
        signals["question"] = 1.0
    if _BROADCAST.search(text):
        signals["broadcast"] = 1.0
    if _STATUS_POST.search(text):
        signals["status_post"] = 1.0
    if not text.isascii():
        signals["non_ascii"] = 1.0
    # No length signal: labeled risky messages run longer than chatter, and a model that learns
    # "long is risky" misses "Line down!!!".
    return signals


def _distinct(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(the position of each value among the distinct ones, the distinct values in order)."""
    positions: dict[str, int] = {}
    rows = np.fromiter(
        (positions.setdefault(v, len(positions)) for v in values), dtype=np.intp, count=len(values)
    )
    return rows, list(positions)


def tfidf_weighted(counts: sp.csr_matrix, vectorizer: TfidfVectorizer) -> sp.csr_matrix:
    """``vectorizer``'s weighting of a count matrix, in place: the arithmetic of scikit-learn's
    ``TfidfTransformer.transform`` step for step, so the result is the same to the bit."""
    if vectorizer.sublinear_tf:
        np.log(counts.data, out=counts.data)
        counts.data += 1.0
    if vectorizer.use_idf:
        counts.data *= vectorizer.idf_[counts.indices]
    if vectorizer.norm is not None:
        # scikit-learn is untyped: pyright infers normalize's (X, norms) branch too; a CSR
        # matrix in, return_norm=False, gives a CSR matrix out.
        counts = cast(sp.csr_matrix, normalize(counts, norm=vectorizer.norm, copy=False))
    return counts


def word_ngram_counts(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """The counts a fitted word vectorizer's ``transform`` computes (its tokens of the lowercased
    text, then pairs of neighbours joined by a space when it reads bigrams), with the lookups
    done by ``map`` over the whole batch instead of a Python loop per feature."""
    low, high = vectorizer.ngram_range
    if (
        vectorizer.analyzer != "word"
        or vectorizer.preprocessor is not None
        or vectorizer.tokenizer is not None
        or vectorizer.stop_words is not None
        or vectorizer.strip_accents is not None
        or not vectorizer.lowercase
        or vectorizer.binary
        or low != 1
        or high > 2
    ):
        raise ValueError("word_ngram_counts reads a lowercasing word 1-gram or 1-2-gram vectorizer")
    tokenize = vectorizer.build_tokenizer()
    docs = [tokenize(text.lower()) for text in texts]
    features = list(chain.from_iterable(docs))
    sizes = [len(doc) for doc in docs]
    if high == 2:
        features += chain.from_iterable(map(" ".join, pairwise(doc)) for doc in docs)
        sizes += [max(len(doc) - 1, 0) for doc in docs]
    vocabulary = vectorizer.vocabulary_
    columns = np.fromiter(
        map(vocabulary.get, features, repeat(-1)), dtype=np.int32, count=len(features)
    )
    rows = np.repeat(np.tile(np.arange(len(docs), dtype=np.int32), high), sizes)
    known = columns >= 0
    counts = sp.csr_matrix(
        (np.ones(int(known.sum()), dtype=vectorizer.dtype), (rows[known], columns[known])),
        shape=(len(docs), len(vocabulary)),
    )
    counts.sum_duplicates()  # sorted indices, repeats summed: as CountVectorizer gives
    return counts


class WordBoundedCharCounts:
    """The n-gram counts a fitted ``char_wb`` vectorizer's ``transform`` computes (lowercased
    text split on whitespace, each word padded with a space on both sides, n-grams never crossing
    a word boundary), computed per distinct word instead of per message.

    Words repeat far more than messages: each distinct word is cut into n-grams once and its
    vocabulary indices remembered across calls; a batch's counts are then one sparse product,
    (messages x words) @ (words x n-grams). Thread-safe enough: two threads meeting a new word
    both compute the same entry."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if (
            vectorizer.analyzer != "char_wb"
            or vectorizer.preprocessor is not None
            or vectorizer.strip_accents is not None
            or not vectorizer.lowercase
            or vectorizer.binary
        ):
            raise ValueError("WordBoundedCharCounts reads a lowercasing char_wb vectorizer only")
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.min_n, self.max_n = vectorizer.ngram_range
        self.dtype = vectorizer.dtype
        self._indices: dict[str, bytes] = {}  # word → its n-grams' vocabulary indices (int32)

    def _word_indices(self, word: str) -> bytes:
        """Vocabulary indices of the n-grams of one word, repeats kept (they are counts)."""
        padded = f" {word} "
        size = len(padded)
        grams: list[str] = []
        for n in range(self.min_n, self.max_n + 1):
            if n >= size:  # the whole padded word, counted once (as scikit-learn does)
                grams.append(padded)
                break
            grams.extend(padded[i : i + n] for i in range(size - n + 1))
        vocabulary = self.vocabulary
        return np.array([vocabulary[g] for g in grams if g in vocabulary], dtype=np.int32).tobytes()

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """One row of n-gram counts per text, indices sorted (as ``CountVectorizer`` gives)."""
        docs = [text.lower().split() for text in texts]
        tokens = list(chain.from_iterable(docs))
        words = {w: i for i, w in enumerate(dict.fromkeys(tokens))}
        known = self._indices
        if len(known) + len(words) > MAX_REMEMBERED_WORDS:
            known.clear()
        per_word: list[bytes] = []
        for word in words:
            indices = known.get(word)
            if indices is None:
                indices = known[word] = self._word_indices(word)
            per_word.append(indices)
        word_sizes = np.fromiter(map(len, per_word), dtype=np.int64, count=len(per_word)) // 4
        word_grams = sp.csr_matrix(
            (
                np.ones(int(word_sizes.sum()), dtype=self.dtype),
                np.frombuffer(b"".join(per_word), dtype=np.int32),
                np.concatenate(([0], np.cumsum(word_sizes))),
            ),
            shape=(len(words), len(self.vocabulary)),
        )
        doc_sizes = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        doc_words = sp.csr_matrix(
            (
                np.ones(len(tokens), dtype=self.dtype),
                np.fromiter(map(words.__getitem__, tokens), dtype=np.int32, count=len(tokens)),
                np.concatenate(([0], np.cumsum(doc_sizes))),
            ),
            shape=(len(docs), len(words)),
        )
        # Sums repeated words and repeated n-grams alike. CSR @ CSR is CSR; scipy's inferred
        # __matmul__ also lists dense arrays.
        counts = cast(sp.csr_matrix, doc_words @ word_grams)
        counts.sort_indices()
        return counts


@dataclass
class Featurizer:
    """The fitted vectorizers; ``transform`` turns (texts, parents) into one sparse matrix."""

    word: TfidfVectorizer
    char: TfidfVectorizer
    parent: TfidfVectorizer
    signals: DictVectorizer
    # Built from ``char`` on first use; not part of a saved or pickled featurizer.
    _char_counts: WordBoundedCharCounts | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @classmethod
    def new(cls) -> Featurizer:
        # The ignores: scikit-learn is untyped and pyright takes ``dtype``'s type from its
        # default (np.float64), so any other dtype looks wrong to it.
        return cls(
            # min_df=2: a word or pair seen once teaches nothing that carries to new messages.
            word=TfidfVectorizer(
                ngram_range=(1, 2),
                min_df=2,
                sublinear_tf=True,
                dtype=np.float32,  # pyright: ignore[reportArgumentType]
            ),
            char=TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(2, 5),
                min_df=2,
                sublinear_tf=True,
                dtype=np.float32,  # pyright: ignore[reportArgumentType]
            ),
            parent=TfidfVectorizer(
                sublinear_tf=True,
                dtype=np.float32,  # pyright: ignore[reportArgumentType]
            ),
            signals=DictVectorizer(
                dtype=np.float32,  # pyright: ignore[reportArgumentType]
            ),
        )

    def fit(self, texts: Sequence[str], parents: Sequence[str]) -> Featurizer:
        self.word.fit(texts)
        self.char.fit(texts)
        # A corpus without replies still needs a vocabulary for the parent block.
        self.parent.fit([p for p in parents if p] or ["no thread parent"])
        self.signals.fit([structural_signals(t, p) for t, p in zip(texts, parents, strict=True)])
        return self

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_char_counts": None}

    def char_counts(self) -> WordBoundedCharCounts:
        if self._char_counts is None:
            self._char_counts = WordBoundedCharCounts(self.char)
        return self._char_counts

    def transform(self, texts: Sequence[str], parents: Sequence[str]) -> sp.csr_matrix:
        """The features of each (text, parent): the same matrix as the vectorizers' own
        ``transform`` of ``texts`` and ``parents``, each distinct text and parent featurized
        once."""
        text_rows, distinct_texts = _distinct(texts)
        parent_rows, distinct_parents = _distinct(parents)
        # A signal reads the parent only for "is a reply".
        signals: dict[tuple[str, bool], dict[str, float]] = {}
        for text, parent in zip(texts, parents, strict=True):
            key = (text, bool(parent))
            if key not in signals:
                signals[key] = structural_signals(text, parent)
        blocks = [
            tfidf_weighted(word_ngram_counts(self.word, distinct_texts), self.word)[text_rows],
            tfidf_weighted(self.char_counts().counts(distinct_texts), self.char)[text_rows],
            PARENT_WEIGHT
            * tfidf_weighted(word_ngram_counts(self.parent, distinct_parents), self.parent)[
                parent_rows
            ],
            SIGNAL_WEIGHT
            * self.signals.transform(
                [signals[t, bool(p)] for t, p in zip(texts, parents, strict=True)]
            ),
        ]
        # format="csr" makes it CSR; scipy's inferred return type lists every format.
        return cast(sp.csr_matrix, sp.hstack(blocks, format="csr", dtype=np.float32))

    def known_word_share(self, texts: Sequence[str]) -> np.ndarray:
        """For each text, the share of its words (numbers aside) that the model has seen in
        training; 1.0 for a text without words (emoji, a bare number). A low share means the
        model is reading a language or jargon it never learned: its "low" is not confident."""
        tokenize = self.word.build_tokenizer()
        vocabulary = self.word.vocabulary_
        shares = np.ones(len(texts))
        for i, text in enumerate(texts):
            words = [w for w in tokenize(_NOT_WORDS.sub(" ", text.lower())) if not w.isdigit()]
            if words:
                shares[i] = sum(w in vocabulary for w in words) / len(words)
        return shares

    def feature_names(self) -> list[str]:
        return [
            *(f"word:{n}" for n in self.word.get_feature_names_out()),
            *(f"chars:{n}" for n in self.char.get_feature_names_out()),
            *(f"parent:{n}" for n in self.parent.get_feature_names_out()),
            *(f"signal:{n}" for n in self.signals.get_feature_names_out()),
        ]

    # -- saving: vocabularies as one string each (a dict of 100k terms is slow to save and load)

    def to_state(self) -> dict[str, object]:
        state: dict[str, object] = {
            name: {
                "params": json.dumps(
                    {
                        "analyzer": vec.analyzer,
                        "ngram_range": list(vec.ngram_range),
                        "min_df": vec.min_df,
                        "sublinear_tf": vec.sublinear_tf,
                        "lowercase": vec.lowercase,
                        "norm": vec.norm,
                        "token_pattern": vec.token_pattern,
                    }
                ),
                "terms": "\x00".join(vec.get_feature_names_out()),
                "idf": vec.idf_.astype(np.float64),
            }
            for name, vec in (("word", self.word), ("char", self.char), ("parent", self.parent))
        }
        return state | {"signals": self.signals}

    @classmethod
    def from_state(cls, state: dict[str, object]) -> Featurizer:
        def vectorizer(part: dict[str, object]) -> TfidfVectorizer:
            params = json.loads(str(part["params"]))
            params["ngram_range"] = tuple(params["ngram_range"])
            terms = str(part["terms"]).split("\x00")
            # The ignore: see ``new``.
            vec = TfidfVectorizer(
                **params,
                dtype=np.float32,  # pyright: ignore[reportArgumentType]
                vocabulary={t: i for i, t in enumerate(terms)},
            )
            vec.idf_ = np.asarray(part["idf"])
            return vec

        return cls(
            word=vectorizer(state["word"]),  # type: ignore[arg-type]
            char=vectorizer(state["char"]),  # type: ignore[arg-type]
            parent=vectorizer(state["parent"]),  # type: ignore[arg-type]
            signals=state["signals"],  # type: ignore[arg-type]
        )
