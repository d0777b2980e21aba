"""The table contract: every table well formed, and the code location built from it."""

import re

import dagster as dg
import pytest

from digest_pipeline.contract import SQL_TYPES, contract, parse, table
from digest_pipeline.contract.enumerations import LEVELS
from digest_pipeline.definitions import defs
from digest_pipeline.defs.digest.build import ROW_LIST_LIMIT

TABLES = contract().tables
UNFILLED = re.compile(r"\{[a-z_]+\}")  # a placeholder the loader left


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_has_a_key_of_its_own_columns_known_types_and_no_duplicates(name):
    declared = TABLES[name]
    names = declared.column_names
    assert declared.key and set(declared.key) <= set(names)
    assert len(names) == len(set(names))
    assert {c.type for c in declared.columns} <= SQL_TYPES
    for column in declared.columns:
        assert column.description.strip(), column.name
        assert not UNFILLED.search(column.description), column.name
    assert declared.kind in ("asset", "side") and declared.description
    if declared.time_column is not None:
        assert declared.time_column in names


def test_every_asset_table_is_an_asset_with_the_contracts_schema_and_partition_column():
    graph = defs.resolve_asset_graph()
    assets = [t for t in TABLES.values() if t.kind == "asset"]
    assert {t.name for t in assets} == {
        "slack_channels",
        "slack_users",
        "raw_messages",
        "messages",
        "risk_labels",
        "risk_model",
        "risk_assessments",
        "hourly_digest",
        "daily_digest",
    }
    for declared in assets:
        node = graph.get(dg.AssetKey(declared.name))
        assert node.metadata["dagster/column_schema"] == declared.schema, declared.name
        assert node.metadata.get("partition_expr") == declared.time_column, declared.name
        assert (node.partitions_def is None) == (declared.time_column is None), declared.name


def test_placeholders_are_filled_from_the_constants_and_enumerations():
    assert ROW_LIST_LIMIT == 400
    new_risks = {c.name: c for c in table("daily_digest").columns}["new_risks"]
    assert f"(at most {ROW_LIST_LIMIT}, highest-ranked first)" in new_risks.description
    level = {c.name: c for c in table("risk_assessments").columns}["risk_level"]
    assert level.description == ", ".join(LEVELS[:-1]) + " or " + LEVELS[-1]
    # Braces that name no placeholder are prose and stay as written.
    reactions = {c.name: c for c in table("messages").columns}["reactions"]
    assert reactions.description == "Reactions: [{name, count}]"


def test_the_daily_digest_extends_the_hourly_one():
    hourly, daily = table("hourly_digest"), table("daily_digest")
    assert daily.columns[: len(hourly.columns)] == hourly.columns
    assert daily.column_names[len(hourly.columns) :] == ["digest_date", "timezone"]


def test_a_kind_asked_for_is_checked():
    assert table("digest_posts", "side").key == ("digest", "partition_key", "channel")
    with pytest.raises(ValueError, match="messages is an asset table"):
        table("messages", "side")
    with pytest.raises(KeyError, match="no table 'mesages'"):
        table("mesages")


GOOD = """
[tables.t]
kind = "side"
description = "one row per thing"
key = ["id"]
columns = [["id", "VARCHAR", "id"], ["at", "TIMESTAMPTZ", "when"]]
"""


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (('key = ["id"]', 'key = ["nope"]'), "key"),
        (('key = ["id"]', "key = []"), "key"),
        (('"TIMESTAMPTZ"', '"TIMESTAMP WITH ZONE"'), "unknown SQL types"),
        (('["at", "TIMESTAMPTZ", "when"]', '["id", "BIGINT", "again"]'), "twice"),
        (('kind = "side"', 'kind = "view"'), "kind"),
        (('"when"', '"when {nothing}"'), "unknown placeholder"),
        (('key = ["id"]', 'key = ["id"]\ntime_column = "when"'), "time_column"),
        (('key = ["id"]', 'key = ["id"]\nextends = "other"'), "extends"),
    ],
)
def test_a_malformed_table_is_refused_with_its_name(change, error):
    assert parse(GOOD).table("t").column_names == ["id", "at"]
    with pytest.raises(ValueError, match=error) as raised:
        parse(GOOD.replace(*change))
    assert "[tables.t]" in str(raised.value)
