"""The code location loads, and shows the graph the data team expects."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from digest_pipeline.definitions import build_defs, defs
from digest_pipeline.defs.partitions import DIGEST_TIMEZONE
from digest_pipeline.settings import Settings
from digest_pipeline_tests.definitions_inventory import runs_contract

ASSETS = {
    "slack_channels": ("extract", None),
    "slack_users": ("extract", None),
    "raw_messages": ("extract", "hourly"),
    "messages": ("enrich", "hourly"),
    "risk_labels": ("score", None),
    "risk_model": ("score", None),
    "risk_assessments": ("score", "hourly"),
    "hourly_digest": ("digest", "hourly"),
    "daily_digest": ("digest", "daily"),
}


def test_definitions_load_with_the_contract_assets_views_and_two_schedules():
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {*ASSETS, "analyst_views"}
    assert graph.get(dg.AssetKey("analyst_views")).group_name == "analytics"
    assert {s.name for s in defs.schedules or []} == {
        "hourly_digest_schedule",
        "daily_digest_schedule",
    }
    assert "risk_labels_sensor" in {s.name for s in defs.sensors or []}
    assert "digest_feedback_sensor" in {s.name for s in defs.sensors or []}
    assert defs.resolve_job_def("risk_model_job").name == "risk_model_job"
    dg.Definitions.validate_loadable(defs)


def test_assets_have_groups_descriptions_schemas_and_partitions():
    graph = defs.resolve_asset_graph()
    for name, (group, partitioning) in ASSETS.items():
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == group, name
        assert node.description, name
        assert "dagster/column_schema" in node.metadata, name
        if partitioning is None:
            assert node.partitions_def is None
        else:
            assert node.partitions_def is not None
            assert "partition_expr" in node.metadata, name
        if partitioning == "hourly":
            assert node.backfill_policy == dg.BackfillPolicy.single_run()


def test_every_column_the_ui_shows_has_a_description_it_can_render():
    graph = build_defs(Settings(has_openai_key=True)).resolve_asset_graph()
    for node in graph.asset_nodes:
        schema = node.metadata.get("dagster/column_schema")
        if schema is None:
            continue
        for column in schema.columns:
            where = f"{node.key.to_user_string()}.{column.name}"
            assert column.description and column.description.strip(), where
            # The UI renders descriptions as Markdown: "<message id>" would vanish as a tag.
            assert "<" not in column.description, where


def test_hourly_partition_keys_follow_the_contract():
    node = defs.resolve_asset_graph().get(dg.AssetKey("raw_messages"))
    keys = node.partitions_def.get_partition_keys()
    assert keys[0] == "2026-01-01-00:00"


def test_jobs_schedules_and_sensors_keep_their_names_tags_crons_and_targets(tmp_path):
    # The UI and the run history key on these; definitions_inventory.json is the code location
    # as it was before the pipeline layer moved them out of digest/.
    expected = json.loads((Path(__file__).parent / "definitions_inventory.json").read_text())
    found = runs_contract(tmp_path)
    for variant, inventory in expected.items():
        for kind in ("jobs", "schedules", "sensors"):
            assert found[variant][kind] == inventory[kind], (variant, kind)


def test_the_daily_schedule_follows_the_daily_partitions_zone():
    graph = defs.resolve_asset_graph()
    zone = graph.get(dg.AssetKey("daily_digest")).partitions_def.timezone
    assert zone == DIGEST_TIMEZONE
    assert (
        defs.get_repository_def().get_schedule_def("daily_digest_schedule").execution_timezone
        == zone
    )


# DIGEST_TIMEZONE and DIGEST_START_DATE are read once, when partitions.py is imported: a fresh
# interpreter is the honest way to load the code location in another zone.
_LOAD_IN_ANOTHER_ZONE = """
import dagster as dg
from digest_pipeline.definitions import build_defs
from digest_pipeline.settings import load_settings

defs = build_defs(load_settings())
dg.Definitions.validate_loadable(defs)
graph = defs.resolve_asset_graph()
print(graph.get(dg.AssetKey("daily_digest")).partitions_def.timezone)
print(graph.get(dg.AssetKey("raw_messages")).partitions_def.get_first_partition_key())
schedule = defs.get_repository_def().get_schedule_def("daily_digest_schedule")
print(schedule.execution_timezone)
print(schedule.description)
"""


def test_another_zone_and_start_date_reach_the_partitions_and_the_daily_schedule(tmp_path):
    env = {
        **os.environ,
        "DIGEST_TIMEZONE": "America/Los_Angeles",
        "DIGEST_START_DATE": "2026-02-01",
        "DIGEST_DUCKDB_PATH": str(tmp_path / "d.duckdb"),
        "DAGSTER_HOME": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_ANOTHER_ZONE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.splitlines()
    assert out[:3] == ["America/Los_Angeles", "2026-02-01-00:00", "America/Los_Angeles"]
    assert out[3].startswith("Daily at 07:00 America/Los_Angeles:")
