"""The scorer-evaluation check on ``risk_assessments``: figures on data the scorer did not train
on, read from the model card (no training, no LLM call at run time)."""

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
from digest_pipeline.defs.risk.store import RiskModelStore

NO_KEY: dict[str, str] = {}


def _run(check: dg.AssetChecksDefinition, model_dir: str) -> dg.AssetCheckResult:
    return check(
        dg.build_asset_check_context(), risk_model_store=RiskModelStore(model_dir=model_dir)
    )


def _meta(result: dg.AssetCheckResult) -> dict:
    return {key: value.value for key, value in result.metadata.items()}


def test_the_model_reports_its_out_of_source_figures(risk_model_dir):
    result = _run(build_scorer_eval_check("model", env=NO_KEY), risk_model_dir)
    assert result.check_name == CHECK_NAME
    assert result.asset_key == dg.AssetKey("risk_assessments")
    assert result.severity == dg.AssetCheckSeverity.WARN
    meta = _meta(result)
    version = RiskModelStore(model_dir=risk_model_dir).current_version()
    assert meta["scorer"] == "model" and meta["model_version"] == version
    assert "source" in meta["method"]  # sources held out, never rows of a seen source
    # Every packaged company is a held-out source, with its own figures.
    assert {"part-a", "part-b", "labeled"} <= set(meta["per_source"])
    assert meta["rows"] >= 800
    assert result.passed == (meta["high_critical_recall"] >= DEFAULT_MIN_HIGH_RECALL)
    assert sum(meta["confusion"]["critical"].values()) > 0


def test_it_warns_when_recall_falls_below_the_configured_threshold(risk_model_dir):
    check = build_scorer_eval_check("llm", env={"DIGEST_EVAL_MIN_HIGH_RECALL": "0.999"})
    result = _run(check, risk_model_dir)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert _meta(result)["threshold"] == 0.999


def test_the_rules_scorer_is_evaluated_on_the_packaged_set(risk_model_dir):
    result = _run(build_scorer_eval_check("rules", env=NO_KEY), risk_model_dir)
    meta = _meta(result)
    assert meta["scorer"] == "rules" and "in-sample" in meta["dataset"]
    assert meta["rows"] >= 200
    assert set(meta["per_level"]) == {"low", "medium", "high", "critical"}


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


@pytest.mark.parametrize("value", ["high", "1.5", "-0.1"])
def test_a_wrong_threshold_fails_with_one_line_naming_the_variable(value):
    with pytest.raises(dg.Failure, match="DIGEST_EVAL_MIN_HIGH_RECALL"):
        min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": value})


def test_the_threshold_defaults_when_unset_or_blank():
    assert min_high_recall({}) == min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": " "}) == 0.75
    assert min_high_recall({"DIGEST_EVAL_MIN_HIGH_RECALL": "0.9"}) == 0.9


def test_the_check_is_registered_on_risk_assessments():
    from digest_pipeline.defs.risk.definitions import build_defs
    from digest_pipeline.settings import Settings

    checks = build_defs(Settings()).asset_checks or []
    keys = {key for check in checks for key in check.check_keys}
    assert dg.AssetCheckKey(dg.AssetKey("risk_assessments"), CHECK_NAME) in keys
