"""Alerts for the whole pipeline: critical risks and failed runs, posted to Slack.

``critical_risk_alert_sensor`` reads critical assessments created since its cursor and alerts
once per message: posted to ``DIGEST_ALERT_CHANNEL`` when a Slack token is set, otherwise (the
demo) written to the ``digest_alerts`` outbox table and the log. The outbox, keyed by
``message_id``, is also what makes an alert go out once even when the message is re-scored.

``run_failure_alert_sensor`` posts failed runs of any job to ``DIGEST_ALERT_CHANNEL``.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from digest_pipeline.defs.digest.build import hidden_channels, opted_out_channels, quote
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource, post_text
from digest_pipeline.defs.digest.escape import mrkdwn, mrkdwn_link
from digest_pipeline.defs.storage.side_table import SideTable
from digest_pipeline.defs.storage.warehouse import Warehouse

ALERTS = SideTable.declared("digest_alerts")
ALERTS_TABLE = ALERTS.name
ALERT_MAX_AGE = timedelta(hours=24)  # older messages (a backfill) never alert
ALERTS_PER_TICK = 20
ALERT_INTERVAL_SECONDS = 120

# -- critical risk alerts -------------------------------------------------------------------------

_CRITICAL_SQL = """
SELECT r.message_id, r.risk_level, r.description, r.created_at, m.channel_id, m.channel,
       m."user", u.title AS role, m.content, m.permalink, m."timestamp"
FROM {schema}.risk_assessments AS r
JOIN {schema}.messages AS m ON m.id = r.message_id
LEFT JOIN {schema}.slack_users AS u ON u.user_id = m.user_id
WHERE r.risk_level = 'critical' AND r.created_at > ? AND m."timestamp" >= ?
ORDER BY r.created_at, r.message_id
"""


def alert_text(row: Mapping[str, Any], *, quotable: bool) -> str:
    """The alert in Slack mrkdwn. A private channel's alert carries only its link."""
    link = mrkdwn_link(row["permalink"], "message")
    if not quotable:
        return f"🔴 *Critical risk* raised in a private channel ({link})."
    # The same naming as the digest: display name, role.
    role = row.get("role")
    who = mrkdwn(
        str(row["user"] or "someone") + (f", {role}" if isinstance(role, str) and role else "")
    )
    return (
        f"🔴 *Critical risk in #{mrkdwn(str(row['channel']))}*: "
        f"{mrkdwn(str(row['description']))} — {who} ({link})\n"
        f"> {mrkdwn(quote(row['content'], 280))}"
    )


def _channel_table(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.table_exists("slack_channels"):
        columns = ["channel_id", "name", "is_private", "topic", "purpose"]
        return pd.DataFrame(columns=pd.Index(columns))
    return warehouse.query(
        "SELECT channel_id, name, is_private, topic, purpose FROM {schema}.slack_channels"
    )


def pending_alerts(
    warehouse: Warehouse, since: datetime, now: datetime, private_allow: Sequence[str] = ()
) -> tuple[list[dict[str, Any]], datetime]:
    """Critical assessments made after ``since`` that were never alerted, and the new cursor."""
    if not (warehouse.table_exists("risk_assessments") and warehouse.table_exists("messages")):
        return [], since
    sql = _CRITICAL_SQL
    if not warehouse.table_exists("slack_users"):  # no directory yet: names without roles
        sql = sql.replace("u.title AS role", "NULL AS role").replace(
            "LEFT JOIN {schema}.slack_users AS u ON u.user_id = m.user_id\n", ""
        )
    rows = warehouse.query(sql, [since, now - ALERT_MAX_AGE])
    if rows.empty:
        return [], since
    # The ignore: pandas types a column's max() as maybe a Series; it is one timestamp.
    newest = pd.Timestamp(rows["created_at"].max()).to_pydatetime()  # pyright: ignore[reportArgumentType]
    done = set(ALERTS.read(warehouse, {"message_id": set(rows["message_id"])})["message_id"])
    channels = _channel_table(warehouse)
    opted_out = opted_out_channels(channels)
    hidden = hidden_channels(channels, private_allow)
    out = []
    for row in rows.drop_duplicates("message_id").to_dict("records"):
        if row["message_id"] in done or row["channel_id"] in opted_out:
            continue
        row["quotable"] = row["channel_id"] not in hidden
        out.append(row)
    return out, newest


@dg.sensor(
    name="critical_risk_alert_sensor",
    minimum_interval_seconds=ALERT_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "New critical risks in the warehouse → one alert per message: posted to "
        "DIGEST_ALERT_CHANNEL, or (demo, no token) written to the digest_alerts outbox and the log."
    ),
)
def critical_risk_alert_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    delivery: DigestDelivery,
    slack_chat: DigestSlackResource,
) -> dg.SkipReason:
    since = datetime.fromtimestamp(0, UTC)
    if context.cursor:
        since = datetime.fromisoformat(json.loads(context.cursor)["created_at"])
    now = datetime.now(UTC)
    try:
        alerts, newest = pending_alerts(warehouse, since, now, delivery.private_allow)
    except duckdb.IOException as e:  # a run holds the DuckDB file: try again next tick
        return dg.SkipReason(f"warehouse busy: {e}")
    alerts = alerts[:ALERTS_PER_TICK]
    if len(alerts) == ALERTS_PER_TICK:
        # More than one tick's worth: come back for the rest before moving the cursor.
        newest = since
    rows = []
    client = slack_chat.get_client() if delivery.posts_alerts else None
    for alert in alerts:
        text = alert_text(alert, quotable=alert["quotable"])
        channel_id = ts = None
        if client is not None and delivery.alert_channel:
            channel_id, ts = post_text(client, delivery.alert_channel, text)
        else:
            context.log.warning(f"ALERT (outbox): {text}")
        rows.append(
            {
                "message_id": alert["message_id"],
                "channel_id": alert["channel_id"],
                "risk_level": alert["risk_level"],
                "description": alert["description"],
                "permalink": alert["permalink"],
                "text": text,
                "status": "posted" if ts else "outbox",
                "alert_channel": channel_id,
                "alert_ts": ts,
                "assessed_at": alert["created_at"],
                "alerted_at": now,
            }
        )
        # One row per alert as soon as it is made: a failure later in the tick never re-sends it.
        ALERTS.upsert(warehouse, pd.DataFrame([rows[-1]]))
    context.update_cursor(json.dumps({"created_at": newest.isoformat()}))
    posted = sum(1 for r in rows if r["status"] == "posted")
    return dg.SkipReason(
        f"{len(rows)} critical alert(s): {posted} posted, {len(rows) - posted} to the outbox"
    )


# -- failed runs ----------------------------------------------------------------------------------


def failure_text(job_name: str, run_id: str, message: str | None) -> str:
    lines = (message or "").strip().splitlines()
    first = lines[0] if lines else "no error message"
    return (
        f"❌ *Run failed*: `{mrkdwn(job_name)}` (run `{run_id[:8]}`)\n> {mrkdwn(quote(first, 400))}"
    )


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location to DIGEST_ALERT_CHANNEL.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext,
    delivery: DigestDelivery,
    slack_chat: DigestSlackResource,
) -> dg.SkipReason | None:
    text = failure_text(
        context.dagster_run.job_name, context.dagster_run.run_id, context.failure_event.message
    )
    if not (delivery.posts_alerts and delivery.alert_channel):
        context.log.warning(text)
        return dg.SkipReason("no alert channel: failure logged only")
    post_text(slack_chat.get_client(), delivery.alert_channel, text)
    return None
