"""How the digests read their inputs: the hourly digest through its asset inputs (the I/O manager
projecting the declared columns), the daily digest and the hour before through ``read_window``.
Both must give the same rows and columns for the same window."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from digest_pipeline.defs.digest.assets import (
    INPUT_COLUMNS,
    MESSAGE_INPUT_COLUMNS,
    RISK_INPUT_COLUMNS,
    hourly_digest,
    join_assessments,
    read_window,
)
from digest_pipeline.defs.digest.threads import ASSESSMENT_COLUMNS, MESSAGE_COLUMNS
from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.risk.assets import RISK_SCHEMA
from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse

HOUR = "2026-03-10-15:00"
START = datetime(2026, 3, 10, 15, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _message(i: int, at: datetime) -> dict:
    return dict.fromkeys(column_names(MESSAGES_SCHEMA)) | {
        "id": f"C1:{i}",
        "channel_id": "C1",
        "channel": "manufacturing",
        "user": "raj",
        "user_id": "U01RAJ",
        "content": f"line {i} is down",
        "timestamp": at,
        "permalink": f"https://x.slack.com/archives/C1/p{i}",
        "is_reply": False,
        "mentions": '["U02ANA"]',
        "urgency": "high",
        "reply_count": 0,
        "is_bot": False,
        "entities": json.dumps(["x" * 1000]),  # wide, and never read by a digest
    }


def _risk(i: int, at: datetime) -> dict:
    return dict.fromkeys(column_names(RISK_SCHEMA)) | {
        "id": f"risk:C1:{i}",
        "message_id": f"C1:{i}",
        "channel_id": "C1",
        "message_timestamp": at,
        "risk_level": "high",
        "risk_category": "manufacturing",
        "description": "Line down",
        "confidence_score": 0.9,
        "requires_attention": True,
        "mitigation_suggestions": json.dumps(["y" * 1000]),  # wide, and never read by a digest
        "needs_rescore": False,
    }


# Three messages in the hour, one in the next; one in the hour has no assessment yet.
TIMES = {i: START + timedelta(minutes=m) for i, m in ((1, 0), (2, 20), (3, 59), (4, 60))}
ASSESSED = (1, 2, 4)


def _hourly_stub(name: str, partition_expr: str, schema: dg.TableSchema, rows: list[dict]):
    """An hourly asset ``name`` writing ``rows`` (both hours here) through the I/O manager."""

    @dg.asset(
        name=name,
        partitions_def=hourly_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        metadata={"partition_expr": partition_expr, "dagster/column_schema": schema},
    )
    def stub() -> pd.DataFrame:
        return pd.DataFrame(rows)

    return stub


def _upstream() -> list[dg.AssetsDefinition]:
    messages = [_message(i, at) for i, at in TIMES.items()]
    risks = [_risk(i, TIMES[i]) for i in ASSESSED]
    return [
        _hourly_stub("messages", "timestamp", MESSAGES_SCHEMA, messages),
        _hourly_stub("risk_assessments", "message_timestamp", RISK_SCHEMA, risks),
    ]


def _hourly_ins() -> dict[str, dg.AssetIn]:
    """The hourly digest's inputs as its asset definition declares them (their columns)."""
    return {
        name: dg.AssetIn(metadata=hourly_digest.node_def.input_def_named(name).metadata)
        for name in ("messages", "risk_assessments")
    }


def test_the_daily_read_and_the_hourly_asset_inputs_give_the_same_rows(duckdb_path):
    io_manager = DuckDBWarehouseIOManager(database=duckdb_path, schema="digest")
    upstream = _upstream()
    # Both hours written, as the hourly runs would.
    dg.materialize(
        upstream,
        resources={"io_manager": io_manager},
        tags={
            "dagster/asset_partition_range_start": HOUR,
            "dagster/asset_partition_range_end": "2026-03-10-16:00",
        },
        run_config=QUIET,
    )

    @dg.asset(partitions_def=hourly_partitions, ins=_hourly_ins(), io_manager_key="mem")
    def probe(messages: pd.DataFrame, risk_assessments: pd.DataFrame) -> pd.DataFrame:
        assert list(messages.columns) == MESSAGE_INPUT_COLUMNS
        assert list(risk_assessments.columns) == RISK_INPUT_COLUMNS
        return join_assessments(messages, risk_assessments)

    result = dg.materialize(
        [*upstream, probe],
        selection=[probe],
        partition_key=HOUR,
        resources={"io_manager": io_manager, "mem": dg.InMemoryIOManager()},
        run_config=QUIET,
    )
    hourly = result.output_for_node("probe")
    read = read_window(Warehouse(duckdb_path=duckdb_path), START, START + timedelta(hours=1))

    assert list(read.columns) == list(hourly.columns) == INPUT_COLUMNS
    assert read["id"].tolist() == ["C1:1", "C1:2"]  # C1:3 unassessed, C1:4 the next hour
    assert sorted(hourly["id"]) == read["id"].tolist()
    pd.testing.assert_frame_equal(
        read,
        hourly.sort_values("timestamp", ignore_index=True).assign(
            timestamp=lambda f: pd.to_datetime(f["timestamp"], utc=True)
        ),
        check_dtype=False,
    )


def test_both_reads_take_their_columns_from_the_digests_declaration():
    assert MESSAGE_INPUT_COLUMNS[: len(MESSAGE_COLUMNS)] == MESSAGE_COLUMNS
    assert RISK_INPUT_COLUMNS[-len(ASSESSMENT_COLUMNS) :] == ASSESSMENT_COLUMNS
    declared = {name: asset_in.metadata["columns"] for name, asset_in in _hourly_ins().items()}
    assert declared == {"messages": MESSAGE_INPUT_COLUMNS, "risk_assessments": RISK_INPUT_COLUMNS}


def test_a_window_before_the_first_run_reads_nothing(duckdb_path):
    frame = read_window(Warehouse(duckdb_path=duckdb_path), START, START + timedelta(hours=1))
    assert frame.empty and list(frame.columns) == INPUT_COLUMNS
