import json
from collections import Counter
from pathlib import Path

import pytest

from digest_pipeline.contract.enumerations import CATEGORIES
from digest_pipeline.defs.risk import eval as risk_eval
from digest_pipeline.defs.risk.eval import (
    DatasetError,
    LabeledMessage,
    evaluate,
    load_labeled,
    main,
    render,
)
from digest_pipeline.defs.risk.models import RiskAssessment
from digest_pipeline.defs.risk.rules import rules_scorer

# Measured: 0.963 on all 342 rows, 0.944 on the 74 holdout rows. A small margin for noise-free
# regressions only: a rule change that loses two or more risky rows fails here.
MIN_HIGH_RECALL_ALL = 0.94
MIN_HIGH_RECALL_HOLDOUT = 0.88


def _assessment(level: str, category: str, attention: bool) -> RiskAssessment:
    return RiskAssessment(
        risk_level=level,  # type: ignore[arg-type]
        risk_category=category,  # type: ignore[arg-type]
        description="x",
        confidence_score=0.5,
        mitigation_suggestions=[],
        requires_attention=attention,
    )


# (gold level, gold category, gold attention) -> (predicted level, category, attention)
CASES = [
    (("low", "none", False), ("low", "none", False)),
    (("low", "none", False), ("medium", "logistics", True)),
    (("medium", "financial", True), ("medium", "financial", False)),
    (("high", "logistics", True), ("critical", "logistics", True)),
    (("critical", "supply_chain", True), ("critical", "logistics", True)),
    (("high", "financial", True), ("low", "none", False)),
]


def test_evaluate_on_a_hand_computed_example() -> None:
    records = [
        LabeledMessage(
            text=f"m{i}", risk_level=g[0], risk_category=g[1], requires_attention=g[2], id=f"m{i}"
        )
        for i, (g, _) in enumerate(CASES)
    ]
    predictions = {f"m{i}": _assessment(*p) for i, (_, p) in enumerate(CASES)}
    report = evaluate(records, lambda text, channel, parent: predictions[text])

    assert report.confusion["low"] == {"low": 1, "medium": 1, "high": 0, "critical": 0}
    assert report.confusion["high"] == {"low": 1, "medium": 0, "high": 0, "critical": 1}
    low, medium, high, critical = (report.per_level[k] for k in risk_eval.LEVELS)
    assert (low.precision, low.recall, low.f1, low.support) == (0.5, 0.5, 0.5, 2)
    assert (medium.precision, medium.recall, medium.support) == (0.5, 1.0, 1)
    assert medium.f1 == pytest.approx(2 / 3)
    assert (high.precision, high.recall, high.f1, high.support) == (0.0, 0.0, 0.0, 2)
    assert (critical.precision, critical.recall) == (0.5, 1.0)
    assert report.macro_f1 == pytest.approx((0.5 + 2 / 3 + 0 + 2 / 3) / 4)
    assert report.accuracy == 0.5
    assert report.high_critical_recall == pytest.approx(2 / 3)  # high->critical counts
    assert report.high_critical_support == 3
    assert report.high_critical_precision == 1.0  # both flagged messages are high or critical
    assert (report.category_accuracy, report.category_support) == (0.5, 4)
    assert report.attention_precision == pytest.approx(2 / 3)
    assert report.attention_recall == 0.5
    assert [m.id for m in report.misses] == ["m1", "m3", "m5"]
    table = render(report)
    assert "macro f1" in table and "confusion" in table


def _write(path: Path, rows: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = [
    {
        "text": "Line 2 is down since 6am",
        "channel": "mfg",
        "thread_context": None,
        "risk_level": "critical",
        "risk_category": "manufacturing_quality",
        "requires_attention": True,
        "owner": "ignored extra key",
    },
    "",
    {"text": "lunch is here", "risk_level": "low"},
    {
        "text": "fixed, line is back up",
        "thread_context": "Line 2 is down since 6am",
        "risk_level": "low",
        "risk_category": "manufacturing_quality",
        "requires_attention": False,
    },
]


def test_cli_prints_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "team.jsonl", GOOD)
    assert main([str(path), "--scorer", "rules", "--min-high-recall", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "3 rows, scorer=rules" in out
    assert "precision" in out and "confusion (rows: labeled, columns: predicted)" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "team.jsonl", GOOD)
    assert main([str(path), "--scorer", "rules", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"] == 3 and data["accuracy"] == 1.0 and data["scorer"] == "rules"
    assert data["per_level"]["critical"]["support"] == 1


def test_cli_fails_below_min_high_recall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"text": "all good here", "risk_level": "high"}]
    path = _write(tmp_path / "team.jsonl", rows)
    assert main([str(path), "--scorer", "rules", "--min-high-recall", "0.5"]) == 1
    assert "below 0.500" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"text": "x", "risk_level": ', ":2: invalid JSON"),
        ('{"text": "x", "risk_level": "urgent"}', ":2: unknown risk_level 'urgent'"),
        ('{"risk_level": "low"}', ":2: missing required key 'text'"),
        ('["text", "low"]', ":2: expected a JSON object"),
        ('{"text": 5, "risk_level": "low"}', ":2: 'text' must be a string"),
        ('{"text": "x", "risk_level": "low", "risk_category": "weather"}', ":2: unknown risk_cat"),
        ('{"text": "x", "risk_level": "low", "requires_attention": "yes"}', ":2: 'requires_att"),
    ],
)
def test_cli_names_file_and_line_of_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad_line: str, message: str
) -> None:
    path = _write(tmp_path / "bad.jsonl", [GOOD[2], bad_line])
    assert main([str(path), "--scorer", "rules"]) == 2
    err = capsys.readouterr().err
    assert f"{path}{message}" in err
    with pytest.raises(DatasetError):
        load_labeled(path)


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_llm_without_key_falls_back_to_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = _write(tmp_path / "team.jsonl", GOOD)
    assert main([str(path), "--scorer", "llm"]) == 0
    captured = capsys.readouterr()
    assert "OPENAI_API_KEY is not set" in captured.err
    assert "scorer=model" in captured.out


def test_llm_requested_but_not_available_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    monkeypatch.setattr(risk_eval, "LLM_MODULE", "digest_pipeline.defs.risk.no_such_module")
    path = _write(tmp_path / "team.jsonl", GOOD)
    assert main([str(path), "--scorer", "llm"]) == 2
    assert "LLM scorer is not available" in capsys.readouterr().err
    assert main([str(path), "--scorer", "auto"]) == 0
    assert "using the model scorer" in capsys.readouterr().err


def test_packaged_labeled_set_is_rich_enough() -> None:
    records = load_labeled()
    assert len(records) >= 200
    assert len({r.id for r in records}) == len(records)
    tags = Counter(t for r in records for t in r.tags)
    minimum = {
        "thread": 15,
        "negation": 8,
        "harmless_alarm": 8,
        "sarcasm": 6,
        "non_english": 6,
        "injection": 6,
        "no_alarm_words": 10,
        "holdout": 40,
    }
    assert {tag: min(tags[tag], n) for tag, n in minimum.items()} == minimum
    assert sum(1 for r in records if r.thread_context) >= 15
    assert {r.risk_category for r in records if r.risk_level != "low"} == set(CATEGORIES) - {"none"}
    levels = Counter(r.risk_level for r in records)
    assert levels["low"] / len(records) == pytest.approx(0.45, abs=0.08)
    assert levels["critical"] >= 15


def test_rules_scorer_recall_on_the_packaged_set_does_not_regress() -> None:
    records = load_labeled()
    report = evaluate(records, rules_scorer)
    assert report.high_critical_recall >= MIN_HIGH_RECALL_ALL
    holdout = evaluate([r for r in records if "holdout" in r.tags], rules_scorer)
    assert holdout.high_critical_recall >= MIN_HIGH_RECALL_HOLDOUT


def test_cli_default_path_is_the_packaged_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scorer", "rules", "--tag", "holdout", "--min-high-recall", "0.8"]) == 0
    assert "scorer=rules" in capsys.readouterr().out
