"""The urgent-message sensor: new Slack messages, judged by the risk model, re-run their hour.

``urgent_message_sensor`` reads the selected channels' new messages with
:func:`~digest_pipeline.defs.slack.poll.poll_history` (small pages, a budget of history calls a
tick by rate tier, channels taken in turn) and requests a run of ``hourly_digest_job`` for the
message's hour (the current one) when a message looks urgent:

* critical text (the current risk model says ``critical``), or
* ``@here`` / ``@channel`` / ``@everyone``, or an alarm reaction (:rotating_light:, :fire:, …),
  on text that the model finds at least a medium risk — "@here cake in the kitchen" re-runs
  nothing.

The channels come from the last ``slack_channels`` materialization (selected, not opted out), so a
tick costs only its history calls; before the first one, the sensor lists them itself. Before the
first risk model exists the rules judge the text.

``run_key`` is ``urgent:<channel>:<ts>``, so one message never launches two runs, even when a
tick is retried. Replies are not polled and reactions added after a message was polled are not
seen: both reach the next hourly run. The app's own posts (its digests and alerts, identified by
``auth.test`` once a tick) and broadcasts in their threads are never candidates: an alarm
reaction on a posted digest re-runs nothing.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb

from digest_pipeline.defs.digest.build import NO_DIGEST_MARKER, opted_out_channels
from digest_pipeline.defs.enrichment.lexicon import ALARM_REACTIONS
from digest_pipeline.defs.enrichment.mrkdwn import MrkdwnCleaner, message_mrkdwn
from digest_pipeline.defs.partitions import HOURLY_FORMAT
from digest_pipeline.defs.pipeline.jobs import hourly_digest_job
from digest_pipeline.defs.risk.model import RiskModel
from digest_pipeline.defs.risk.rules import score_message
from digest_pipeline.defs.risk.store import RiskModelStore
from digest_pipeline.defs.slack.extract import app_identity, list_channels
from digest_pipeline.defs.slack.models import SlackApi, SlackCallError
from digest_pipeline.defs.slack.poll import (
    POLL_CALLS_PER_TICK,
    HistoryPoll,
    parse_poll_cursor,
    poll_history,
)
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.slack.ts import ts_to_datetime
from digest_pipeline.defs.storage.warehouse import Warehouse
from digest_pipeline.vocabulary import BROADCAST_MENTIONS, SKIPPED_SUBTYPES

URGENT_INTERVAL_SECONDS = 60
TRIGGER_TAG = "digest/trigger"


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


def urgent_messages(read: HistoryPoll, levels: Levels = rules_levels) -> list[UrgentMessage]:
    """The urgent ones among a tick's new messages, judged all at once with ``levels``."""
    candidates = [
        candidate
        for channel_id, message in read.messages
        if (candidate := read_candidate(channel_id, message)) is not None
    ]
    judged = levels([c.text for c in candidates])
    return [
        UrgentMessage(candidate.channel_id, candidate.ts, signals)
        for candidate, level in zip(candidates, judged, strict=True)
        if (signals := urgent_signals(level, candidate.loud))
    ]


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
    latest, offset = parse_poll_cursor(context.cursor)
    budget = POLL_CALLS_PER_TICK.get(slack.rate_tier, 0)
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
        read = poll_history(
            api, channels, latest, offset=offset, budget=budget, now=datetime.now(UTC), own=own
        )
    except SlackCallError as e:
        # Keep the cursor: the next tick retries from the same place.
        return dg.SensorResult(skip_reason=f"Slack: {e}", cursor=context.cursor)
    cursor = read.cursor
    if read.skipped_messages:
        context.log.warning(
            f"{read.skipped_messages} channel(s) had more new messages than one tick reads; "
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
        for u in urgent_messages(read, levels)
    ]
    if not requests:
        return dg.SensorResult(
            skip_reason=(
                f"no urgent message in {len(read.polled)} channel(s), {read.calls} call(s)"
            ),
            cursor=cursor,
        )
    return dg.SensorResult(run_requests=requests, cursor=cursor)
