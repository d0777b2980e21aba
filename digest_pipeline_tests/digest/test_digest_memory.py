"""Memory of the digest steps on a busy hour whose rows carry wide columns the digest never reads.

Issue #15 (a 100k-message day under 1 GiB): the hourly digest loaded every column of
``messages`` and ``risk_assessments`` through the I/O manager, and the citation check read whole
digest rows back. Here one hour of 20,000 messages carries 4 KB of ``entities`` and ``reactions``
per message and 4 KB of ``mitigation_suggestions`` per assessment (~240 MB the digest does not
need). The hourly digest runs in a fresh child process; its peak RSS above what the process held
before the run (``VmHWM`` after resetting it) must stay far below what loading those columns costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.risk.assets import RISK_SCHEMA
from digest_pipeline.defs.slack.assets import CHANNELS_SCHEMA, USERS_SCHEMA

pytestmark = pytest.mark.chaos

HOUR = "2026-03-10-09:00"
ROWS = 20_000
WIDE = 4_000  # characters in each unread wide value

# Values for the columns the digest reads; every other column is NULL, except the wide ones.
MESSAGE_VALUES = {
    "id": "'C' || (i % 4) || ':' || (1773133200 + i // 10) || '.' || lpad(i::VARCHAR, 6, '0')",
    "channel_id": "'C' || (i % 4)",
    "channel": "'channel-' || (i % 4)",
    "user_id": "'U' || lpad((i % 40)::VARCHAR, 7, '0')",
    "user": "'user' || (i % 40)",
    "content": "CASE WHEN i % 50 = 0 THEN 'line ' || (i % 9) || ' is down, waiting on parts'"
    " ELSE 'PO ' || i || ' confirmed' END",
    "timestamp": "TIMESTAMPTZ '2026-03-10 09:00:00+00' + to_microseconds(i * 150000)",
    "urgency": "'low'",
    "mentions": "'[]'",
    "permalink": "'https://acme.slack.com/archives/C' || (i % 4) || '/p' || i",
    "is_bot": "false",
    "is_reply": "false",
    "reply_count": "0",
    "reactions": f"'[\"' || repeat('r', {WIDE}) || i || '\"]'",
    "entities": f"'[\"' || repeat('e', {WIDE}) || i || '\"]'",
}
RISK_VALUES = {
    "id": "'risk:' || m.id",
    "message_id": "m.id",
    "channel_id": "m.channel_id",
    "message_timestamp": "m.timestamp",
    "risk_level": "CASE WHEN m.content LIKE 'line%' THEN 'high' ELSE 'low' END",
    "risk_category": "'manufacturing'",
    "description": "CASE WHEN m.content LIKE 'line%' THEN 'Line down' ELSE 'Routine' END",
    "confidence_score": "0.9",
    "requires_attention": "m.content LIKE 'line%'",
    "mitigation_suggestions": f"'[\"' || repeat('m', {WIDE}) || m.id || '\"]'",
}


def _create(conn: duckdb.DuckDBPyConnection, table: str, schema, values: dict, source: str):
    columns = {c.name: c.type for c in schema.columns}
    conn.execute(
        f"CREATE TABLE digest.{table} ("
        + ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns.items())
        + ")"
    )
    selected = ", ".join(f"({values.get(name, 'NULL')})::{columns[name]}" for name in columns)
    conn.execute(f"INSERT INTO digest.{table} SELECT {selected} FROM {source}")


def write_busy_hour(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("CREATE SCHEMA digest")
        _create(conn, "messages", MESSAGES_SCHEMA, MESSAGE_VALUES, f"range({ROWS}) AS r(i)")
        _create(conn, "risk_assessments", RISK_SCHEMA, RISK_VALUES, "digest.messages AS m")
        channels = {"channel_id": "'C' || i", "name": "'channel-' || i", "is_private": "false"}
        _create(conn, "slack_channels", CHANNELS_SCHEMA, channels, "range(4) AS r(i)")
        users = {"user_id": "'U' || lpad(i::VARCHAR, 7, '0')", "name": "'user' || i"}
        _create(conn, "slack_users", USERS_SCHEMA, users | {"is_bot": "false"}, "range(40) r(i)")


# The child resets its high-water mark just before the run, so imports do not count.
RUN_HOURLY_DIGEST = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import dagster as dg
    from digest_pipeline.defs.digest.assets import hourly_digest
    from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
    from digest_pipeline.defs.enrichment.assets import messages
    from digest_pipeline.defs.risk.assets import risk_assessments
    from digest_pipeline.defs.llm.resources import LLMResource
    from digest_pipeline.defs.risk.resources import ModelScorer
    from digest_pipeline.defs.risk.store import RiskModelStore
    from digest_pipeline.defs.slack.resources import SlackSource
    from digest_pipeline.defs.slack.assets import raw_messages, slack_channels, slack_users
    from digest_pipeline.defs.storage.duckdb import DuckDBWarehouseIOManager
    from digest_pipeline.defs.storage.warehouse import Warehouse

    def kib(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1])

    path, hour, out = sys.argv[1:4]
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = kib("VmRSS")
    result = dg.materialize(
        [slack_channels, slack_users, raw_messages, messages, risk_assessments, hourly_digest],
        selection=[hourly_digest],
        partition_key=hour,
        resources={
            "io_manager": DuckDBWarehouseIOManager(database=path, schema="digest"),
            "warehouse": Warehouse(duckdb_path=path),
            "delivery": DigestDelivery(output_dir=out),
            "slack_chat": DigestSlackResource(token=""),
            "risk_scorer": ModelScorer(),
            "llm": LLMResource(enabled=False),
            # The upstream assets are only loaded; their resources are never used.
            "slack": SlackSource(kind="demo"),
            "risk_model_store": RiskModelStore(model_dir=out),
        },
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    (event,) = result.asset_materializations_for_node("hourly_digest")
    grew = kib("VmHWM") - before
    print(json.dumps({"grew_kib": grew, "messages": event.metadata["messages"].value}))
    """
)


def test_the_hourly_digest_reads_only_the_columns_it_uses(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    write_busy_hour(path)

    done = subprocess.run(
        [sys.executable, "-c", RUN_HOURLY_DIGEST, str(path), HOUR, str(tmp_path / "digests")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["messages"] == ROWS
    # Measured: 129 MiB reading the used columns, 424 MiB reading every column (the bug).
    grew = out["grew_kib"] / 1024
    assert grew < 250, f"the hourly digest grew the process by {grew:.0f} MiB"
