"""The learned risk model on small synthetic corpora: deterministic versions, honest figures,
safe files, a cascade that skips only confident lows."""

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from digest_pipeline.defs.risk.labels import LabeledMessage
from digest_pipeline.defs.risk.model import (
    ModelFileError,
    ModelParams,
    load_model,
    model_version,
    save_model,
)
from digest_pipeline.defs.risk.training import MIN_SOURCE_ROWS, render_card, train_risk_model

PARTS = ["PMIC", "MCU", "LDO", "0402 cap", "BMS board", "display", "hinge", "battery cell"]
CUSTOMERS = ["Walmart", "Best Buy", "Telstra", "Orange", "Costco"]

LOW = [
    "thanks {who}, looks good",
    "standup moved to {n}:30 tomorrow",
    "lunch order is in, {n} pizzas",
    "fire drill at {n}pm, meet by the parking lot",
    "{part} samples arrived, all fine",
    "retest passed on the {part}, closing the ticket",
]
MEDIUM = [
    "{part} lead time up to {n} weeks but we have buffer stock for {m} weeks",
    "{customer} asked for a discount on the next PO, sales is on it",
    "minor cosmetic scratches on {n} {part} units, rework in place",
    "{part} price up {n}% next quarter, finance looking at it",
]
HIGH = [
    "{part} lead time jumped to {n} weeks, we only have {m} weeks of cover",
    "{customer} says they will move volume to a competitor unless we hit the date",
    "FCC pre-scan failed by {n} dB on the {part}, launch date at risk",
    "yield on the {part} line dropped to {n}% vs 98 target",
]
CRITICAL = [
    "line {n} is down, no {part} left, production stopped",
    "{customer} formally cancelled the PO after the slip",
    "battery swelling on {n} field units, possible fire risk, stop shipments",
    "customs seized the container with all launch inventory of the {part}",
]


def _corpus(source: str, seed: int, per_level: int = 12) -> list[LabeledMessage]:
    rng = random.Random(seed)
    rows = []
    for level, templates in (
        ("low", LOW),
        ("medium", MEDIUM),
        ("high", HIGH),
        ("critical", CRITICAL),
    ):
        for i in range(per_level):
            text = rng.choice(templates).format(
                who=rng.choice(["ana", "raj", "li"]),
                n=rng.randint(2, 60),
                m=rng.randint(1, 9),
                part=rng.choice(PARTS),
                customer=rng.choice(CUSTOMERS),
            )
            rows.append(
                LabeledMessage(
                    text=f"{text} ({source} {i})",
                    risk_level=level,
                    risk_category="none" if level == "low" else "supply_chain",
                    requires_attention=level in ("high", "critical"),
                    id=f"{source}-{level}-{i}",
                    source=source,
                )
            )
    return rows


@pytest.fixture(scope="module")
def rows() -> list[LabeledMessage]:
    return _corpus("acme", 1) + _corpus("globex", 2) + _corpus("initech", 3)


@pytest.fixture(scope="module")
def model(rows):
    return train_risk_model(rows)


def test_the_version_is_a_hash_of_rows_and_parameters(rows, model):
    assert model.version == model_version(rows, ModelParams()) and model.version.startswith("rm-")
    assert model_version(list(reversed(rows)), ModelParams()) == model.version  # order-free
    relabeled = [replace(rows[0], risk_level="critical"), *rows[1:]]
    assert model_version(relabeled, ModelParams()) != model.version
    assert model_version(rows, ModelParams(c=1.0)) != model.version


def test_training_is_deterministic(rows, model):
    again = train_risk_model(rows)
    assert again.version == model.version
    texts = [r.text for r in rows[:20]]
    np.testing.assert_array_equal(again.predict(texts).p_ge_high, model.predict(texts).p_ge_high)


def test_the_card_reports_every_source_out_of_source(model):
    cv = model.card["cross_validation"]
    assert cv["method"] == "leave one source out (3 sources)"
    assert set(cv["per_source"]) == {"acme", "globex", "initech"}
    for figures in cv["per_source"].values():
        assert figures["rows"] == 48 and figures["high_critical"] == 24
        assert sum(sum(row.values()) for row in figures["confusion"].values()) == 48
    assert model.card["training_rows_by_source"] == {"acme": 48, "globex": 48, "initech": 48}
    assert model.card["strongest_features"]["toward_risk"]
    assert "| acme |" in render_card(model)


def test_it_learns_the_labels(model):
    p = model.predict(
        [
            "line 7 is down, no MCU left, production stopped",
            "thanks ana, looks good",
            "Telstra says they will move volume to a competitor unless we hit the date",
        ]
    )
    assert p.levels[0] in ("high", "critical") and p.levels[1] == "low"
    assert p.levels[2] in ("high", "critical")
    assert p.categories[1] == "none" and p.attention[0] and not p.attention[1]
    assert all(0.0 <= c <= 1.0 for c in p.confidence)


def test_the_cascade_skips_only_confident_lows(model, rows):
    cascade = model.card["llm_cascade"]
    # Chosen on out-of-source predictions: at most 1% of labeled high+critical skipped there.
    assert cascade["risky_skipped"] <= int(0.01 * cascade["risky_total"])
    p = model.predict([r.text for r in rows])
    assert np.array_equal(p.llm_skip, p.p_ge_medium < model.thresholds.llm_skip)
    skipped_levels = {level for level, s in zip(p.levels, p.llm_skip, strict=True) if s}
    assert skipped_levels <= {"low"}
    assert 0 < cascade["share_sent_to_llm"] <= 1


def test_a_saved_model_loads_and_predicts_the_same(model, tmp_path: Path):
    path = save_model(model, tmp_path / f"{model.version}.skops")
    loaded = load_model(path)
    assert loaded.version == model.version and loaded.card == model.card
    assert loaded.thresholds == model.thresholds
    texts = ["customs seized the container", "lunch?"]
    np.testing.assert_allclose(loaded.predict(texts).p_ge_high, model.predict(texts).p_ge_high)


def test_a_file_that_is_not_a_skops_model_is_refused(tmp_path: Path):
    junk = tmp_path / "rm-000000000000.skops"
    junk.write_bytes(b"\x80\x04not a model")
    with pytest.raises(ModelFileError, match="not a readable skops file"):
        load_model(junk)


def test_a_file_with_foreign_types_is_refused(tmp_path: Path):
    import skops.io as sio

    path = tmp_path / "foreign.skops"
    sio.dump({"format": 1, "payload": Path("/etc/passwd")}, path)
    with pytest.raises(ModelFileError, match="refuses to load"):
        load_model(path)


def test_small_sources_are_pooled_into_random_folds():
    tiny = _corpus("solo", 4, per_level=8)
    assert len(tiny) < 2 * MIN_SOURCE_ROWS * 4
    model = train_risk_model(tiny)
    assert model.card["cross_validation"]["method"].startswith("3 random folds")


def test_training_needs_every_level():
    with pytest.raises(ValueError, match="every level"):
        train_risk_model([r for r in _corpus("x", 5) if r.risk_level != "critical"])


def test_category_scores_rank_the_category_head_s_pick_first(rows, model):
    texts = [r.text for r in rows[:10]]
    # One labeled category: no head, no prior for the category engine.
    assert model.predict(texts).category_scores == [{} for _ in texts]
    risky = [r for r in rows if r.risk_level != "low"]
    two = {r.id for r in risky[::2]}
    relabeled = [replace(r, risk_category="logistics") if r.id in two else r for r in rows]
    p = train_risk_model(relabeled).predict([r.text for r in risky])
    for scores, level, pick in zip(p.category_scores, p.levels, p.categories, strict=True):
        assert set(scores) == {"logistics", "supply_chain"}
        if level != "low":
            assert max(scores, key=scores.__getitem__) == pick
