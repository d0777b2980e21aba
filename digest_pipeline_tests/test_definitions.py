"""The code location loads, and shows the graph the data team expects."""

import dagster as dg

from digest_pipeline.definitions import build_defs, defs
from digest_pipeline.settings import Settings

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


def test_a_zone_other_than_utc_builds(tmp_path):
    settings = Settings(duckdb_path=str(tmp_path / "d.duckdb"), timezone="America/Los_Angeles")
    dg.Definitions.validate_loadable(build_defs(settings))
