"""The scorer-evaluation check on ``risk_assessments``: rules only, never an LLM."""

import dagster as dg
import pytest

from digest_pipeline.defs.risk.checks import (
    CHECK_NAME,
    DEFAULT_MIN_HIGH_RECALL,
    build_scorer_eval_check,
    eval_check_result,
    min_high_recall,
)
from digest_pipeline.defs.risk.eval import LabeledMessage, evaluate
from digest_pipeline.defs.risk.rules import rules_scorer

NO_KEY: dict[str, str] = {}


def _run(check: dg.AssetChecksDefinition) -> dg.AssetCheckResult:
    return check(dg.build_asset_check_context())


def _meta(result: dg.AssetCheckResult) -> dict:
    return {key: value.value for key, value in result.metadata.items()}


def test_the_rules_pass_the_default_threshold_with_metrics_in_metadata():
    result = _run(build_scorer_eval_check("auto", env=NO_KEY))
    assert result.check_name == CHECK_NAME
    assert result.asset_key == dg.AssetKey("risk_assessments")
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.passed
    meta = _meta(result)
    assert meta["scorer"] == "rules"
    assert meta["high_critical_recall"] >= DEFAULT_MIN_HIGH_RECALL
    assert meta["rows"] >= 200
    assert set(meta["per_level"]) == {"low", "medium", "high", "critical"}
    assert meta["confusion"]["critical"]["critical"] > 0


def test_it_warns_when_recall_falls_below_the_configured_threshold():
    result = _run(build_scorer_eval_check("rules", env={"DIGEST_EVAL_MIN_HIGH_RECALL": "0.999"}))
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert _meta(result)["threshold"] == 0.999


def test_a_blind_scorer_fails_and_lists_the_missed_risks():
    records = [
        LabeledMessage("PMIC lead time is now 52 weeks", "high", id="a"),
        LabeledMessage("battery swelling on 3 field units", "critical", id="b"),
        LabeledMessage("lunch at noon", "low", id="c"),
    ]
    report = evaluate(records, lambda text, channel, parent: rules_scorer("ok", None, None))
    result = eval_check_result(
        report, scorer="rules", threshold=0.85, dataset="inline", seconds=0.0
    )
    assert not result.passed
    assert _meta(result)["high_critical_recall"] == 0.0
    assert len(_meta(result)["missed_high_critical"]) == 2


def test_without_an_openai_key_the_llm_choice_falls_back_to_the_rules():
    result = _run(build_scorer_eval_check("llm", env={"OPENAI_API_KEY": ""}))
    assert _meta(result)["scorer"] == "rules"


@pytest.mark.parametrize("value", ["high", "1.5", "-0.1"])
def test_a_wrong_threshold_fails_with_one_line_naming_the_variable(value):
    with pytest.raises(dg.Failure, match="DIGEST_EVAL_MIN_HIGH_RECALL"):
        min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": value})


def test_the_threshold_defaults_when_unset_or_blank():
    assert min_high_recall({}) == min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": " "}) == 0.85
    assert min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": "0.9"}) == 0.9


def test_the_check_is_registered_on_risk_assessments():
    from digest_pipeline.defs.risk.definitions import build_defs
    from digest_pipeline.settings import Settings

    checks = build_defs(Settings()).asset_checks or []
    keys = {key for check in checks for key in check.check_keys}
    assert dg.AssetCheckKey(dg.AssetKey("risk_assessments"), CHECK_NAME) in keys
