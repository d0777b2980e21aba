"""The analyst views on small, known tables — the same answers on DuckDB and PostgreSQL."""

import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from digest_pipeline.contract import table_schema
from digest_pipeline.defs.analytics.assets import analyst_views
from digest_pipeline.defs.analytics.views import RESOLUTION_WORDS, VIEWS
from digest_pipeline.defs.digest import threads
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.analytics.queries import DOCUMENTED_QUERIES
from digest_pipeline_tests.conftest import BACKENDS

QUERYING_DOC = Path(__file__).resolve().parents[2] / "docs" / "querying.md"

CHANNELS = table_schema(
    ("channel_id", "VARCHAR", ""), ("name", "VARCHAR", ""), ("is_private", "BOOLEAN", ""),
    ("is_archived", "BOOLEAN", ""),
)  # fmt: skip
MESSAGES = table_schema(
    ("id", "VARCHAR", ""), ("channel_id", "VARCHAR", ""), ("channel", "VARCHAR", ""),
    ("user_id", "VARCHAR", ""), ("user", "VARCHAR", ""), ("timestamp", "TIMESTAMPTZ", ""),
    ("content", "VARCHAR", ""), ("message_type", "VARCHAR", ""), ("urgency", "VARCHAR", ""),
    ("category", "VARCHAR", ""), ("sentiment_score", "DOUBLE", ""),
    ("priority_level", "BIGINT", ""), ("is_reply", "BOOLEAN", ""), ("parent_id", "VARCHAR", ""),
    ("permalink", "VARCHAR", ""),
)  # fmt: skip
USERS = table_schema(
    ("user_id", "VARCHAR", ""), ("display_name", "VARCHAR", ""), ("title", "VARCHAR", ""),
)  # fmt: skip
RISKS = table_schema(
    ("id", "VARCHAR", ""), ("message_id", "VARCHAR", ""), ("channel_id", "VARCHAR", ""),
    ("message_timestamp", "TIMESTAMPTZ", ""), ("risk_level", "VARCHAR", ""),
    ("risk_category", "VARCHAR", ""), ("description", "VARCHAR", ""),
    ("confidence_score", "DOUBLE", ""), ("mitigation_suggestions", "JSON", ""),
    ("requires_attention", "BOOLEAN", ""),
)  # fmt: skip

# (id, channel, minute, parent, content, urgency, risk level)
ROWS = [
    ("C1:1", "C1", 0, None, "Shortage of MCU for DVT build", "high", "high"),
    ("C1:2", "C1", 30, "C1:1", "any update?", "low", "low"),
    ("C1:3", "C1", 60, None, "Yield excursion on line 2", "critical", "critical"),
    ("C1:4", "C1", 90, "C1:3", "Fixed, line is back up", "low", "low"),
    ("C2:5", "C2", 120, None, "Customs hold on the Rotterdam shipment", "medium", "medium"),
    ("C2:6", "C2", 150, None, "lunch?", "low", "low"),
]


def _tables(
    rows: list[tuple] | None = None,
) -> dict[str, tuple[pd.DataFrame, dg.TableSchema, list[str]]]:
    rows = ROWS if rows is None else rows
    base = pd.Timestamp("2026-03-10 09:00", tz="UTC")
    names = {"C1": "supply-chain", "C2": "logistics"}
    messages = pd.DataFrame(
        {
            "id": [r[0] for r in rows],
            "channel_id": [r[1] for r in rows],
            "channel": [names[r[1]] for r in rows],
            "user_id": "U1",
            "user": "dana",
            "timestamp": [base + pd.Timedelta(minutes=r[2]) for r in rows],
            "content": [r[4] for r in rows],
            "message_type": ["reply" if r[3] else "message" for r in rows],
            "urgency": [r[5] for r in rows],
            "category": "supply_chain",
            "sentiment_score": -0.5,
            "priority_level": 3,
            "is_reply": [r[3] is not None for r in rows],
            "parent_id": [r[3] for r in rows],
            "permalink": [f"https://example.slack.com/{r[0]}" for r in rows],
        }
    )
    risks = pd.DataFrame(
        {
            "id": ["risk:" + r[0] for r in rows],
            "message_id": [r[0] for r in rows],
            "channel_id": [r[1] for r in rows],
            "message_timestamp": messages["timestamp"],
            "risk_level": [r[6] for r in rows],
            "risk_category": "supply_chain",
            "description": [f"risk of {r[0]}" for r in rows],
            "confidence_score": 0.8,
            "mitigation_suggestions": '["call the supplier"]',
            "requires_attention": [r[6] in ("high", "critical") for r in rows],
        }
    )
    channels = pd.DataFrame(
        {
            "channel_id": ["C1", "C2"],
            "name": ["supply-chain", "logistics"],
            "is_private": False,
            "is_archived": False,
        }
    )
    users = pd.DataFrame({"user_id": ["U1"], "display_name": ["dana"], "title": ["Buyer"]})
    return {
        "slack_channels": (channels, CHANNELS, ["channel_id"]),
        "slack_users": (users, USERS, ["user_id"]),
        "messages": (messages, MESSAGES, ["id"]),
        "risk_assessments": (risks, RISKS, ["id"]),
    }


@pytest.fixture(scope="module", params=BACKENDS)
def warehouse(request, tmp_path_factory) -> Warehouse:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_databases")()
        warehouse = Warehouse(backend="postgres", database_url=url, connect_attempts=1)
    else:
        path = tmp_path_factory.mktemp("views") / "digest.duckdb"
        warehouse = Warehouse(duckdb_path=str(path))
    for table, (frame, schema, key) in _tables().items():
        warehouse.replace_rows(table, frame, key=key, schema=schema)
    result = dg.materialize([analyst_views], resources={"warehouse": warehouse})
    assert result.success
    return warehouse


def test_open_risks_are_unresolved_threads_at_their_most_severe_message(warehouse):
    rows = warehouse.query(
        "SELECT thread_id, message_id, risk_level, thread_messages, requires_attention"
        " FROM {schema}.v_open_risks ORDER BY thread_id"
    )
    # C1:3 is resolved by "Fixed, line is back up"; "any update?" does not resolve C1:1.
    assert list(rows.itertuples(index=False, name=None)) == [
        ("C1:1", "C1:1", "high", 2, True),
        ("C2:5", "C2:5", "medium", 1, False),
    ]


def test_open_risks_name_who_raised_them_as_the_digest_does(warehouse):
    rows = warehouse.query("SELECT DISTINCT raised_by FROM {schema}.v_open_risks")
    assert rows["raised_by"].tolist() == ["dana, Buyer"]  # display name, role


def test_latest_messages_filter_by_channel_urgency_and_category(warehouse):
    rows = warehouse.query(
        "SELECT message_id, thread_id, risk_level FROM {schema}.v_latest_messages"
        " WHERE channel = ? AND urgency IN ('high', 'critical') AND category = ?"
        ' ORDER BY "timestamp" DESC',
        ["supply-chain", "supply_chain"],
    )
    assert list(rows.itertuples(index=False, name=None)) == [
        ("C1:3", "C1:3", "critical"),
        ("C1:1", "C1:1", "high"),
    ]


def test_risk_summary_counts_per_day_channel_and_level(warehouse):
    rows = warehouse.query(
        "SELECT channel_id, risk_level, assessments, requiring_attention"
        " FROM {schema}.v_risk_summary ORDER BY channel_id, risk_rank DESC"
    )
    assert list(rows.itertuples(index=False, name=None)) == [
        ("C1", "critical", 1, 1),
        ("C1", "high", 1, 1),
        ("C1", "low", 2, 0),
        ("C2", "medium", 1, 0),
        ("C2", "low", 1, 0),
    ]
    days = warehouse.query("SELECT DISTINCT day FROM {schema}.v_risk_summary")["day"]
    assert set(pd.to_datetime(days).dt.date) == {pd.Timestamp("2026-03-10").date()}


def test_channel_stats_answer_the_stats_endpoint(warehouse):
    rows = warehouse.query(
        "SELECT channel, messages, threads, replies, urgent_messages, critical_risks,"
        " high_risks, medium_risks, open_risks FROM {schema}.v_channel_stats ORDER BY channel"
    )
    assert list(rows.itertuples(index=False, name=None)) == [
        ("logistics", 2, 2, 0, 0, 0, 0, 1, 1),
        ("supply-chain", 4, 2, 2, 2, 1, 1, 0, 1),
    ]


def test_views_are_replaced_when_materialized_again(warehouse):
    assert dg.materialize([analyst_views], resources={"warehouse": warehouse}).success
    assert len(warehouse.query("SELECT * FROM {schema}.v_open_risks")) == 2


def test_a_thread_closed_before_some_chatter_is_not_open_and_the_digest_agrees(tmp_path):
    rows = [
        ("C1:1", "C1", 0, None, "Line 2 down", "high", "high"),
        ("C1:2", "C1", 10, "C1:1", "Fixed, line is back up", "low", "low"),
        ("C1:3", "C1", 20, "C1:1", "nice!", "low", "low"),  # does not reopen it
        ("C1:4", "C1", 30, None, "Customs hold on lot 9", "high", "high"),
        ("C1:5", "C1", 40, "C1:4", "Released this morning", "low", "low"),
        ("C1:6", "C1", 50, "C1:4", "held again at the port", "high", "high"),  # reopens it
    ]
    warehouse = Warehouse(duckdb_path=str(tmp_path / "digest.duckdb"))
    for table, (frame, schema, key) in _tables(rows).items():
        warehouse.replace_rows(table, frame, key=key, schema=schema)
    assert dg.materialize([analyst_views], resources={"warehouse": warehouse}).success
    open_risks = warehouse.query("SELECT thread_id FROM {schema}.v_open_risks")
    assert open_risks["thread_id"].tolist() == ["C1:4"]
    frame = warehouse.query(
        "SELECT m.*, r.risk_level, r.risk_category, r.description, r.confidence_score,"
        " r.requires_attention FROM {schema}.messages m JOIN {schema}.risk_assessments r"
        " ON r.message_id = m.id"
    )
    resolved = threads.resolved_threads(frame, set())
    assert [(r["thread_id"], r["message_id"]) for r in resolved] == [("C1:1", "C1:2")]


@pytest.mark.parametrize("name", sorted(DOCUMENTED_QUERIES))
def test_the_documented_queries_run(warehouse, name):
    sql = DOCUMENTED_QUERIES[name]
    for view in VIEWS:
        sql = sql.replace(f"FROM digest.{view.name}", f"FROM {{schema}}.{view.name}")
    assert "{schema}" in sql, "the documented query must address its view as digest.<view>"
    rows = warehouse.query(sql)
    assert len(rows) > 0
    # Counts come back as 64-bit integers on both backends (not DuckDB's int128 sums).
    for column in ("assessments", "requiring_attention", "messages", "open_risks"):
        if column in rows:
            assert str(rows[column].dtype).lower() in ("int64", "int32"), (column, rows.dtypes)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_QUERIES))
def test_the_querying_doc_shows_the_documented_queries(name):
    def squash(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip()

    assert squash(DOCUMENTED_QUERIES[name]) in squash(QUERYING_DOC.read_text())


def test_resolution_words_match_the_digest():
    """v_open_risks and the digest must agree on what resolves a thread."""
    group = re.search(r"\((.*)\)", threads._RESOLVED.pattern)
    assert group is not None
    assert set(group.group(1).split("|")) == set(RESOLUTION_WORDS)
