"""Sensors: urgent messages re-run the current hour; critical risks and failed runs alert.

``urgent_message_sensor`` polls the selected channels' ``conversations.history`` for messages
newer than its cursor — one small page per channel (:data:`URGENT_PAGE_LIMIT`), at most
:data:`URGENT_CALLS_PER_TICK` history calls a tick, channels taken in turn — and requests a run of
``hourly_digest_job`` for the message's hour (the current one) when a message looks urgent:

* critical text (the current risk model says ``critical``), or
* ``@here`` / ``@channel`` / ``@everyone``, or an alarm reaction (:rotating_light:, :fire:, …),
  on text that the model finds at least a medium risk — "@here cake in the kitchen" re-runs
  nothing.

The channels come from the last ``slack_channels`` materialization (selected, not opted out), so a
tick costs only its history calls; before the first one, the sensor lists them itself. Before the
first risk model exists the rules judge the text.

``run_key`` is ``urgent:<channel>:<ts>``, so one message never launches two runs, even when a
tick is retried. The cursor is JSON: ``{"latest": {channel_id: newest ts seen}, "offset": n}``
(``offset``: where the next tick starts when there are more channels than calls). Replies are not
polled (``conversations.history`` does not return them) and reactions added after a message was
polled are not seen: both reach the next hourly run. The app's own posts (its digests and alerts,
identified by ``auth.test`` once a tick) and broadcasts in their threads are never candidates:
an alarm reaction on a posted digest re-runs nothing.

``critical_risk_alert_sensor`` reads critical assessments created since its cursor and alerts
once per message: posted to ``DIGEST_ALERT_CHANNEL`` when a Slack token is set, otherwise (the
demo) written to the ``digest_alerts`` outbox table and the log. The outbox, keyed by
``message_id``, is also what makes an alert go out once even when the message is re-scored.

``run_failure_alert_sensor`` posts failed runs to ``DIGEST_ALERT_CHANNEL``.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from digest_pipeline.defs.digest.build import (
    NO_DIGEST_MARKER,
    hidden_channels,
    opted_out_channels,
    quote,
)
from digest_pipeline.defs.digest.delivery import DigestDelivery, DigestSlackResource, post_text
from digest_pipeline.defs.digest.escape import mrkdwn, mrkdwn_link
from digest_pipeline.defs.digest.schedules import hourly_digest_job
from digest_pipeline.defs.enrichment.lexicon import ALARM_REACTIONS
from digest_pipeline.defs.enrichment.mrkdwn import MrkdwnCleaner, message_mrkdwn
from digest_pipeline.defs.partitions import HOURLY_FORMAT
from digest_pipeline.defs.risk.model import RiskModel
from digest_pipeline.defs.risk.rules import score_message
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.slack.extract import (
    NO_IDENTITY,
    AppIdentity,
    app_identity,
    datetime_to_ts,
    list_channels,
    ts_to_datetime,
    ts_to_decimal,
)
from digest_pipeline.defs.slack.models import SlackApi, SlackCallError, require_ok
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.schema import table_schema
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.vocabulary import BROADCAST_MENTIONS, SKIPPED_SUBTYPES

URGENT_PAGE_LIMIT = 15
URGENT_PAGES_PER_CHANNEL = 2
# History calls per tick by rate tier: Tier 3 allows ~50 a minute and the hourly extraction needs
# most of them; the strict tier (1 a minute) leaves nothing for polling.
URGENT_CALLS_PER_TICK = {"tier3": 8, "strict": 0}
URGENT_FIRST_LOOKBACK = timedelta(minutes=15)
URGENT_INTERVAL_SECONDS = 60
TRIGGER_TAG = "digest/trigger"

ALERTS_TABLE = "digest_alerts"
ALERTS_SCHEMA = table_schema(
    ("message_id", "VARCHAR", "messages.id of the critical message (key)"),
    ("channel_id", "VARCHAR", "Where the message was posted"),
    ("risk_level", "VARCHAR", "critical"),
    ("description", "VARCHAR", "The assessment's one-line description"),
    ("permalink", "VARCHAR", "Link to the message"),
    ("text", "VARCHAR", "The alert as sent (or as it would have been)"),
    ("status", "VARCHAR", "posted (to Slack) or outbox (no alert channel or no token)"),
    ("alert_channel", "VARCHAR", "DIGEST_ALERT_CHANNEL, if posted"),
    ("alert_ts", "VARCHAR", "ts of the alert post"),
    ("assessed_at", "TIMESTAMPTZ", "created_at of the assessment"),
    ("alerted_at", "TIMESTAMPTZ", "When the alert was made (UTC)"),
)
ALERT_MAX_AGE = timedelta(hours=24)  # older messages (a backfill) never alert
ALERTS_PER_TICK = 20
ALERT_INTERVAL_SECONDS = 120


# -- urgent messages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrgentMessage:
    channel_id: str
    ts: str
    signals: tuple[str, ...]

    @property
    def run_key(self) -> str:
        return f"urgent:{self.channel_id}:{self.ts}"

    @property
    def partition_key(self) -> str:
        moment = ts_to_datetime(self.ts).replace(minute=0, second=0, microsecond=0)
        return moment.strftime(HOURLY_FORMAT)


@dataclass(frozen=True)
class Candidate:
    """A new message the sensor read: its cleaned text and what makes it loud."""

    channel_id: str
    ts: str
    text: str
    loud: tuple[str, ...]  # @here / @channel / alarm reactions


def read_candidate(channel_id: str, message: Mapping[str, Any]) -> Candidate | None:
    """A raw Slack message as a :class:`Candidate` (``None`` for joins, topic changes, ...)."""
    if message.get("subtype") in SKIPPED_SUBTYPES:
        return None
    text, mentions = MrkdwnCleaner().clean(message_mrkdwn(message))
    reactions = {
        str(r.get("name", "")).split("::", 1)[0]
        for r in message.get("reactions") or []
        if isinstance(r, Mapping)
    }
    loud = [f"@{m}" for m in dict.fromkeys(mentions) if m in BROADCAST_MENTIONS]
    loud += [f":{r}:" for r in sorted(reactions & ALARM_REACTIONS)]
    return Candidate(channel_id, str(message.get("ts")), text, tuple(loud))


Levels = Callable[[Sequence[str]], list[str]]


def rules_levels(texts: Sequence[str]) -> list[str]:
    return [score_message(t).risk_level if t else "low" for t in texts]


def model_levels(model: RiskModel) -> Levels:
    return lambda texts: model.predict(list(texts)).levels if texts else []


def urgent_signals(level: str, loud: Sequence[str]) -> tuple[str, ...]:
    """Why a message is urgent (empty: it is not): critical text, or a broadcast or an alarm
    reaction on text that is at least a medium risk."""
    signals = ["critical text"] if level == "critical" else []
    if level != "low":
        signals += loud
    return tuple(signals)


@dataclass
class PollResult:
    urgent: list[UrgentMessage]
    latest: dict[str, str]
    offset: int
    calls: int
    polled: list[str]
    skipped_messages: int  # a burst beyond the pages one tick reads: left to the hourly run
    own_posts: int = 0  # the app's own posts read past, never judged


def _history_page(
    api: SlackApi, channel_id: str, oldest: str, cursor: str | None
) -> Mapping[str, Any]:
    params: dict[str, Any] = {
        "channel": channel_id,
        "oldest": oldest,
        "inclusive": "false",
        "limit": URGENT_PAGE_LIMIT,
    }
    if cursor:
        params["cursor"] = cursor
    return require_ok(
        "conversations.history", api.call("conversations.history", params), channel=channel_id
    )


def poll_channels(
    api: SlackApi,
    channels: Sequence[tuple[str, str]],
    latest: Mapping[str, str],
    *,
    offset: int,
    budget: int,
    now: datetime,
    levels: Levels = rules_levels,
    own: AppIdentity = NO_IDENTITY,
) -> PollResult:
    """One tick: read each channel's new messages (newest first, in small pages) in turn, then
    judge them all at once with ``levels``. ``own``'s posts, and broadcasts in their threads, are
    read past but never judged."""
    result = PollResult([], dict(latest), offset, 0, [], 0)
    candidates: list[Candidate] = []
    if not channels or budget <= 0:
        return result
    start = offset % len(channels)
    order = [*channels[start:], *channels[:start]]
    done = 0
    for channel_id, _name in order:
        if result.calls >= budget:
            break
        oldest = latest.get(channel_id) or datetime_to_ts(now - URGENT_FIRST_LOOKBACK)
        newest = oldest
        cursor: str | None = None
        pages = 0
        try:
            while result.calls < budget and pages < URGENT_PAGES_PER_CHANNEL:
                body = _history_page(api, channel_id, oldest, cursor)
                result.calls += 1
                pages += 1
                for message in body.get("messages") or []:
                    ts = message.get("ts")
                    if not isinstance(ts, str) or ts_to_decimal(ts) <= ts_to_decimal(oldest):
                        continue
                    if ts_to_decimal(ts) > ts_to_decimal(newest):
                        newest = ts
                    if own.authored(message) or own.answers(message):
                        result.own_posts += 1
                        continue
                    candidate = read_candidate(channel_id, message)
                    if candidate is not None:
                        candidates.append(candidate)
                cursor = (body.get("response_metadata") or {}).get("next_cursor") or None
                if not (body.get("has_more") and cursor):
                    cursor = None
                    break
        except SlackCallError as e:
            if not e.is_channel_error:
                raise
        if cursor:  # still more after the pages we may read: the hourly run will see them
            result.skipped_messages += 1
        result.latest[channel_id] = newest
        result.polled.append(channel_id)
        done += 1
    result.offset = (start + done) % len(channels)
    judged = levels([c.text for c in candidates])
    for candidate, level in zip(candidates, judged, strict=True):
        signals = urgent_signals(level, candidate.loud)
        if signals:
            result.urgent.append(UrgentMessage(candidate.channel_id, candidate.ts, signals))
    return result


def _parse_cursor(raw: str | None) -> tuple[dict[str, str], int]:
    if not raw:
        return {}, 0
    try:
        data = json.loads(raw)
        return {str(k): str(v) for k, v in data.get("latest", {}).items()}, int(
            data.get("offset", 0)
        )
    except (ValueError, AttributeError, TypeError):
        return {}, 0  # an unreadable cursor starts over from the first look-back


def _opted_out(channel: Mapping[str, Any]) -> bool:
    text = " ".join(str((channel.get(key) or {}).get("value", "")) for key in ("topic", "purpose"))
    return NO_DIGEST_MARKER in text.lower()


def _channels(api: SlackApi, slack: SlackSource, warehouse: Warehouse) -> list[tuple[str, str]]:
    """The channels extraction reads, minus those that opted out of digests: from the last
    ``slack_channels`` materialization, or listed from Slack before there is one."""
    try:
        if warehouse.table_exists("slack_channels"):
            table = warehouse.query(
                "SELECT channel_id, name, topic, purpose FROM {schema}.slack_channels"
                " WHERE selected"
            )
            opted_out = opted_out_channels(table)
            return sorted(
                (str(r["channel_id"]), str(r["name"] or r["channel_id"]))
                for r in table.to_dict("records")
                if r["channel_id"] not in opted_out
            )
    except duckdb.IOException:
        pass  # a run holds the DuckDB file: list from Slack this tick
    selection = slack.selection
    found = [
        (str(c["id"]), str(c.get("name") or c["id"]))
        for c in list_channels(api, slack.page_limit)
        if selection.skip_reason(c) is None and not _opted_out(c)
    ]
    return sorted(found)


@dg.sensor(
    name="urgent_message_sensor",
    job=hourly_digest_job,
    minimum_interval_seconds=URGENT_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Polls the selected channels for urgent messages (critical text, @here/@channel, alarm "
        "reactions) and re-runs the current hour; one run per message (run_key channel:ts)."
    ),
)
def urgent_message_sensor(
    context: dg.SensorEvaluationContext,
    slack: SlackSource,
    warehouse: Warehouse,
    risk_model_store: RiskModelStore,
) -> dg.SensorResult:
    latest, offset = _parse_cursor(context.cursor)
    budget = URGENT_CALLS_PER_TICK.get(slack.rate_tier, 0)
    if budget <= 0:
        return dg.SensorResult(
            skip_reason=f"rate tier {slack.rate_tier!r} leaves no budget for polling",
            cursor=context.cursor,
        )
    api = slack.open_api()
    version = risk_model_store.current_version()
    levels = model_levels(risk_model_store.load(version)) if version else rules_levels
    try:
        own = app_identity(api)
        channels = _channels(api, slack, warehouse)
        result = poll_channels(
            api,
            channels,
            latest,
            offset=offset,
            budget=budget,
            now=datetime.now(UTC),
            levels=levels,
            own=own,
        )
    except SlackCallError as e:
        # Keep the cursor: the next tick retries from the same place.
        return dg.SensorResult(skip_reason=f"Slack: {e}", cursor=context.cursor)
    cursor = json.dumps({"latest": result.latest, "offset": result.offset}, sort_keys=True)
    if result.skipped_messages:
        context.log.warning(
            f"{result.skipped_messages} channel(s) had more new messages than one tick reads; "
            "the rest reach the next hourly run"
        )
    requests = [
        dg.RunRequest(
            run_key=u.run_key,
            partition_key=u.partition_key,
            tags={
                TRIGGER_TAG: "urgent_message",
                "digest/channel": u.channel_id,
                "digest/ts": u.ts,
                "digest/signals": ",".join(u.signals),
            },
        )
        for u in result.urgent
    ]
    if not requests:
        return dg.SensorResult(
            skip_reason=(
                f"no urgent message in {len(result.polled)} channel(s), {result.calls} call(s)"
            ),
            cursor=cursor,
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor)


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
        return pd.DataFrame(columns=["channel_id", "name", "is_private", "topic", "purpose"])
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
    newest = pd.Timestamp(rows["created_at"].max()).to_pydatetime()
    done: set[str] = set()
    if warehouse.table_exists(ALERTS_TABLE):
        done = set(
            warehouse.query(
                "SELECT message_id FROM {schema}." + ALERTS_TABLE
                + " WHERE message_id IN (SELECT unnest(?))",
                [sorted(set(rows["message_id"]))],
            )["message_id"]
        )  # fmt: skip
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
        warehouse.replace_rows(
            ALERTS_TABLE, pd.DataFrame([rows[-1]]), key=["message_id"], schema=ALERTS_SCHEMA
        )
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
