"""``risk_labels`` → ``risk_model`` → ``risk_assessments`` materialized into a temporary DuckDB:
a label change makes a new version with its figures, a bad label row is reported, every scored
row names its model, and the labels sensor asks for a retrain only when the labels change."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.llm.resources import LLMResource
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.risk.assets import RISK_SCHEMA, risk_assessments
from digest_pipeline.defs.risk.labels import LLM_WEIGHT
from digest_pipeline.defs.risk.model_assets import (
    risk_labels,
    risk_labels_sensor,
    risk_model,
    warehouse_labels,
)
from digest_pipeline.defs.risk.resources import ModelScorer
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.risk.test_model import _corpus

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
HOUR = "2026-03-10-15:00"


def _write_labels(path: Path, extra_lines: list[str] = ()) -> None:
    rows = _corpus("team", 7) + _corpus("team2", 8)
    lines = [
        json.dumps(
            {
                "id": r.id,
                "text": r.text,
                "risk_level": r.risk_level,
                "risk_category": r.risk_category,
                "requires_attention": r.requires_attention,
            }
        )
        for r in rows
    ]
    path.write_text("\n".join([*lines, *extra_lines]) + "\n", encoding="utf-8")


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.db = str(tmp_path / "wh" / "w.duckdb")
        self.labels = tmp_path / "team.jsonl"
        self.store = RiskModelStore(
            model_dir=str(tmp_path / "models"), labels_path=str(self.labels), include_packaged=False
        )
        self.warehouse = Warehouse(duckdb_path=self.db)

    def resources(self) -> dict:
        return {
            "io_manager": DuckDBWarehouseIOManager(database=self.db, schema="digest"),
            "warehouse": self.warehouse,
            "risk_model_store": self.store,
        }

    def train(self) -> tuple[dict, dg.ExecuteInProcessResult]:
        result = dg.materialize(
            [risk_labels, risk_model], resources=self.resources(), run_config=QUIET
        )
        assert result.success
        (event,) = result.asset_materializations_for_node("risk_model")
        return {k: v.value for k, v in event.metadata.items()}, result

    def table(self, name: str) -> pd.DataFrame:
        with duckdb.connect(self.db, read_only=True) as conn:
            conn.execute("USE w.digest")
            return conn.execute(f"SELECT * FROM {name}").df()


@pytest.fixture
def setup(tmp_path) -> Setup:
    return Setup(tmp_path)


def test_a_label_change_makes_a_new_version_with_its_figures(setup):
    _write_labels(setup.labels, ['{"text": "broken', '{"text": "x", "risk_level": "dire"}'])
    first, result = setup.train()
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "labels_are_valid" and not check.passed
    problems = check.metadata["first_problems"].value
    assert len(problems) == 2 and problems[0].startswith(f"{setup.labels}:97: invalid JSON")
    assert "dire" in problems[1]

    assert not first["reused"] and first["training_rows"] == 96
    assert first["rows_by_source"] == {"team": 96}
    assert "| fold-1 |" in first["cross_validation"]  # one source: three random folds
    assert "labeled \\ predicted" in first["confusion_matrix"]
    assert first["strongest_features"]["toward_risk"]
    assert Path(first["path"]).is_file()
    assert setup.store.current_version() == first["version"]

    again, _ = setup.train()  # same labels: the stored model, no training
    assert again["reused"] and again["version"] == first["version"]
    assert len(setup.table("risk_model")) == 1

    with setup.labels.open("a", encoding="utf-8") as f:
        f.write(
            json.dumps({"text": "vessel fire, all launch units lost", "risk_level": "critical"})
        )
    changed, _ = setup.train()
    assert changed["version"] != first["version"] and changed["training_rows"] == 97
    history = setup.table("risk_model").set_index("version")
    assert set(history.index) == {first["version"], changed["version"]}
    assert history["is_current"].to_dict() == {first["version"]: False, changed["version"]: True}
    assert json.loads(history.loc[changed["version"], "rows_by_source"]) == {"team": 97}
    assert setup.store.current_version() == changed["version"]


def _messages_asset() -> dg.AssetsDefinition:
    @dg.asset(
        name="messages",
        partitions_def=hourly_partitions,
        metadata={"partition_expr": "timestamp", "dagster/column_schema": MESSAGES_SCHEMA},
    )
    def messages() -> pd.DataFrame:
        texts = ["line 4 is down, no PMIC left, production stopped", "thanks ana, looks good"]
        base = pd.Timestamp("2026-03-10 15:10", tz="UTC")
        rows = [
            dict.fromkeys(column_names(MESSAGES_SCHEMA))
            | {
                "id": f"C1:{i}.0",
                "channel_id": "C1",
                "channel": "manufacturing",
                "ts": f"{i}.0",
                "user_id": "U1",
                "content": text,
                "content_hash": f"h{i}",
                "timestamp": base + pd.Timedelta(minutes=i),
                "is_reply": False,
            }
            for i, text in enumerate(texts)
        ]
        return pd.DataFrame(rows)[column_names(MESSAGES_SCHEMA)]

    return messages


def test_every_scored_row_names_the_model_that_scored_it(setup):
    _write_labels(setup.labels)
    meta, _ = setup.train()
    result = dg.materialize(
        [_messages_asset(), risk_assessments],
        partition_key=HOUR,
        resources={
            **setup.resources(),
            "risk_scorer": ModelScorer(),
            "llm": LLMResource(enabled=False),
        },
        run_config=QUIET,
    )
    assert result.success
    (event,) = result.asset_materializations_for_node("risk_assessments")
    assert event.metadata["model_version"].value == meta["version"]
    rows = setup.table("risk_assessments").set_index("message_id")
    assert set(rows["model_version"]) == {meta["version"]}
    assert set(rows["scorer"]) == set(rows["judgement"]) == {"model"}
    assert rows.loc["C1:0.0", "risk_level"] in ("high", "critical")
    assert rows.loc["C1:1.0", "risk_level"] == "low"
    assert rows.loc["C1:1.0", "description"] == "No business risk detected"
    assert rows["risk_probability"].between(0, 1).all()


def test_llm_verdicts_become_training_rows_weighted_below_people(setup):
    messages = [
        dict.fromkeys(column_names(MESSAGES_SCHEMA))
        | {
            "id": "C1:1.0",
            "channel": "logistics",
            "content": "vessel held at port",
            "is_reply": False,
        }
    ]
    risks = [
        dict.fromkeys(column_names(RISK_SCHEMA))
        | {
            "id": "risk:C1:1.0",
            "message_id": "C1:1.0",
            "risk_level": "high",
            "llm_risk_level": "high",
            "risk_category": "logistics",
            "judgement": "llm",
            "created_at": pd.Timestamp("2026-03-10", tz="UTC"),
        }
    ]
    setup.warehouse.replace_rows(
        "messages", pd.DataFrame(messages), key=["id"], schema=MESSAGES_SCHEMA
    )
    setup.warehouse.replace_rows(
        "risk_assessments", pd.DataFrame(risks), key=["id"], schema=RISK_SCHEMA
    )
    stored = warehouse_labels(setup.warehouse)
    assert not stored.feedback.rows  # no risk_feedback table yet
    assert [(r.text, r.risk_level, r.source, r.weight) for r in stored.llm.rows] == [
        ("vessel held at port", "high", "llm", LLM_WEIGHT)
    ]


def test_the_labels_sensor_retrains_only_when_the_labels_change(setup):
    _write_labels(setup.labels)

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            cursor=cursor,
            resources={"warehouse": setup.warehouse, "risk_model_store": setup.store},
        )
        return risk_labels_sensor(context)

    first = tick(None)
    assert len(first.run_requests) == 1 and first.run_requests[0].run_key.startswith("labels:")
    same = tick(first.cursor)
    assert not same.run_requests and same.skip_reason.skip_message == "labels unchanged"
    with setup.labels.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"text": "new label", "risk_level": "low"}) + "\n")
    changed = tick(first.cursor)
    assert len(changed.run_requests) == 1 and changed.cursor != first.cursor
