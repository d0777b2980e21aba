"""Alert sensor ticks: critical risks alert once (posted or to the outbox); failed runs post."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource
from digest_pipeline.defs.enrichment.assets import MESSAGES_SCHEMA
from digest_pipeline.defs.pipeline.alerts import (
    ALERTS_TABLE,
    critical_risk_alert_sensor,
    run_failure_alert_sensor,
)
from digest_pipeline.defs.risk.assets import RISK_SCHEMA
from digest_pipeline.defs.slack.assets import CHANNELS_SCHEMA
from digest_pipeline.defs.storage.schema import column_names
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline_tests.fakes.slack_chat import FakeChatWorkspace
from digest_pipeline_tests.fakes.slack_server import FakeSlackServer

NOW = datetime.now(UTC).replace(microsecond=0)


def seeded_day() -> str:
    """The UTC day of the messages ``_seed`` writes (not today's date: just after midnight the
    messages, written ten minutes before ``NOW``, are still yesterday's)."""
    return (NOW - timedelta(minutes=10)).strftime("%Y-%m-%d")


def _seed(warehouse: Warehouse, rows: list[tuple[str, str, str]]) -> None:
    """Messages (channel, id, level) and their assessments, as the pipeline writes them."""
    messages, risks = [], []
    for channel, message_id, level in rows:
        messages.append(
            dict.fromkeys(column_names(MESSAGES_SCHEMA))
            | {
                "id": message_id,
                "channel_id": channel,
                "channel": {"C1": "manufacturing", "CP": "exec"}[channel],
                "user": "raj",
                "content": f"Line stopped <{message_id}>",
                "timestamp": NOW - timedelta(minutes=10),
                "permalink": f"https://x.slack.com/archives/{channel}/p1",
            }
        )
        risks.append(
            dict.fromkeys(column_names(RISK_SCHEMA))
            | {
                "id": f"risk:{message_id}",
                "message_id": message_id,
                "channel_id": channel,
                "risk_level": level,
                "description": "Production line down",
                "created_at": NOW - timedelta(minutes=5),
            }
        )
    warehouse.replace_rows("messages", pd.DataFrame(messages), key=["id"], schema=MESSAGES_SCHEMA)
    warehouse.replace_rows("risk_assessments", pd.DataFrame(risks), key=["id"], schema=RISK_SCHEMA)
    channels = [
        dict.fromkeys(column_names(CHANNELS_SCHEMA))
        | {"channel_id": c, "name": n, "is_private": p, "topic": "", "purpose": ""}
        for c, n, p in (("C1", "manufacturing", False), ("CP", "exec", True))
    ]
    warehouse.replace_rows(
        "slack_channels", pd.DataFrame(channels), key=["channel_id"], schema=CHANNELS_SCHEMA
    )


def _alert_tick(warehouse: Warehouse, delivery: DigestDelivery, server=None, cursor=None):
    chat = DigestSlackResource(token="xoxb-test", base_url=server.base_url if server else "x")
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={"warehouse": warehouse, "delivery": delivery, "slack_chat": chat},
    )
    result = critical_risk_alert_sensor(context)
    return result, context.cursor


def test_critical_risks_go_to_the_outbox_once_in_demo_mode(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(
        warehouse,
        [("C1", "C1:1", "critical"), ("C1", "C1:2", "high"), ("CP", "CP:1", "critical")],
    )
    delivery = DigestDelivery()  # no token, no channel: the outbox
    result, cursor = _alert_tick(warehouse, delivery)
    assert "2 critical alert(s): 0 posted, 2 to the outbox" in result.skip_message
    outbox = warehouse.query("SELECT * FROM {schema}." + ALERTS_TABLE + " ORDER BY message_id")
    assert list(outbox["message_id"]) == ["C1:1", "CP:1"]
    assert set(outbox["status"]) == {"outbox"}
    private = outbox.loc[outbox["message_id"] == "CP:1", "text"].iloc[0]
    assert "Line stopped" not in private and "private channel" in private
    # Re-scoring the same message (a new created_at) never alerts twice.
    _seed(warehouse, [("C1", "C1:1", "critical")])
    again, _ = _alert_tick(warehouse, delivery, cursor=cursor)
    assert "0 critical alert(s)" in again.skip_message


def test_critical_risks_are_posted_to_the_alert_channel(duckdb_path):
    warehouse = Warehouse(duckdb_path=duckdb_path)
    _seed(warehouse, [("C1", "C1:1", "critical")])
    workspace = FakeChatWorkspace()
    workspace.add_channel("CALERT", "gtm-alerts")
    delivery = DigestDelivery(alert_channel="gtm-alerts", can_post=True)
    with FakeSlackServer(workspace) as server:
        _alert_tick(warehouse, delivery, server)
        _alert_tick(warehouse, delivery, server)  # no cursor: the outbox alone dedups
    (post,) = workspace.top_level_posts("CALERT")
    assert "Production line down" in post["text"] and "&lt;C1:1&gt;" in post["text"]
    row = warehouse.query("SELECT status, alert_ts FROM {schema}." + ALERTS_TABLE).iloc[0]
    assert (row["status"], row["alert_ts"]) == ("posted", post["ts"])


def test_a_failed_run_is_posted_to_the_alert_channel():
    workspace = FakeChatWorkspace()
    workspace.add_channel("CALERT", "gtm-alerts")
    instance = dg.DagsterInstance.ephemeral()
    with FakeSlackServer(workspace) as server:
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_instance=instance,
            dagster_run=dg.DagsterRun(job_name="hourly_digest_job", run_id="abcdef123456"),
            dagster_event=dg.DagsterEvent(
                event_type_value="PIPELINE_FAILURE",
                job_name="hourly_digest_job",
                message="Slack rejected the bot token (invalid_auth)",
            ),
            resources={
                "delivery": DigestDelivery(alert_channel="gtm-alerts", can_post=True),
                "slack_chat": DigestSlackResource(token="xoxb-test", base_url=server.base_url),
            },
        ).for_run_failure()
        run_failure_alert_sensor(context)
    (post,) = workspace.top_level_posts("CALERT")
    assert "hourly_digest_job" in post["text"] and "invalid_auth" in post["text"]
