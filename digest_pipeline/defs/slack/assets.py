"""Extract assets: channels, users and the raw messages of each UTC hour."""

import json
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from digest_pipeline.defs.partitions import hourly_partitions
from digest_pipeline.defs.slack.extract import (
    Window,
    extract_window,
    list_channels,
    list_users,
    workspace_url,
)
from digest_pipeline.defs.slack.models import SlackCallError
from digest_pipeline.defs.slack.resources import SlackSource
from digest_pipeline.defs.storage.schema import column_names, table_schema

CHANNELS_SCHEMA = table_schema(
    ("channel_id", "VARCHAR", "Slack channel ID (key)"),
    ("name", "VARCHAR", "Channel name without #"),
    ("is_private", "BOOLEAN", "Private channel"),
    ("is_archived", "BOOLEAN", "Archived channel"),
    ("is_member", "BOOLEAN", "The bot is a member"),
    ("topic", "VARCHAR", "Channel topic"),
    ("purpose", "VARCHAR", "Channel purpose"),
    ("num_members", "BIGINT", "Member count when known"),
    ("selected", "BOOLEAN", "Extracted by this deployment"),
    ("skip_reason", "VARCHAR", "Why not extracted: not_selected, excluded, archived, ..."),
    ("workspace_url", "VARCHAR", "Workspace URL, for permalinks"),
    ("listed_at", "TIMESTAMPTZ", "When the channel list was read (UTC)"),
)

USERS_SCHEMA = table_schema(
    ("user_id", "VARCHAR", "Slack user ID (key)"),
    ("name", "VARCHAR", "Handle"),
    ("display_name", "VARCHAR", "Display name"),
    ("real_name", "VARCHAR", "Real name"),
    ("title", "VARCHAR", "Profile title (role)"),
    ("is_bot", "BOOLEAN", "Bot user"),
    ("deleted", "BOOLEAN", "Deactivated user"),
    ("tz", "VARCHAR", "User's time zone"),
)

RAW_MESSAGES_SCHEMA = table_schema(
    ("channel_id", "VARCHAR", "Slack channel ID (key part)"),
    ("ts", "VARCHAR", "Slack ts, the exact string (key part)"),
    ("thread_ts", "VARCHAR", "Parent ts for thread parents and replies"),
    ("timestamp", "TIMESTAMPTZ", "When the message was posted (UTC); the partition column"),
    ("payload", "JSON", "The message object exactly as the source returned it"),
    ("source", "VARCHAR", "demo, slack or export"),
    ("user_id", "VARCHAR", "Author user ID or bot ID"),
    ("subtype", "VARCHAR", "Slack subtype (channel_join, bot_message, ...)"),
    ("is_reply", "BOOLEAN", "A thread reply"),
    ("extracted_at", "TIMESTAMPTZ", "When this copy was extracted"),
)


def _text(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("value") or "")
    return str(value or "")


def _slack_failure(e: SlackCallError) -> dg.Failure:
    if e.is_auth_error:
        return dg.Failure(
            f"Slack rejected the bot token ({e.error}): check SLACK_BOT_TOKEN and the app's install"
        )
    return dg.Failure(str(e))


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    description="Every channel the workspace lists, with whether this deployment extracts it.",
    metadata={"dagster/column_schema": CHANNELS_SCHEMA},
)
def slack_channels(context: dg.AssetExecutionContext, slack: SlackSource) -> pd.DataFrame:
    api = slack.open_api()
    try:
        channels = list_channels(api, slack.page_limit)
        url = workspace_url(api)
    except SlackCallError as e:
        raise _slack_failure(e) from e
    selection = slack.selection
    listed_at = datetime.now(UTC)
    rows = [
        {
            "channel_id": str(c["id"]),
            "name": str(c.get("name") or c["id"]),
            "is_private": bool(c.get("is_private", False)),
            "is_archived": bool(c.get("is_archived", False)),
            "is_member": bool(c.get("is_member", False)),
            "topic": _text(c.get("topic")),
            "purpose": _text(c.get("purpose")),
            "num_members": int(c.get("num_members") or 0),
            "selected": selection.skip_reason(c) is None,
            "skip_reason": selection.skip_reason(c),
            "workspace_url": url,
            "listed_at": listed_at,
        }
        for c in channels
    ]
    frame = pd.DataFrame(rows, columns=column_names(CHANNELS_SCHEMA))
    skipped = frame.loc[~frame["selected"], "skip_reason"].value_counts().to_dict()
    context.add_output_metadata(
        {
            "channels_listed": len(frame),
            "channels_selected": int(frame["selected"].sum()),
            "channels_skipped": {str(k): int(v) for k, v in skipped.items()},
            **api.stats.as_metadata(),
        }
    )
    return frame


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    description="Workspace members and bots: names for mentions, roles for owners.",
    metadata={"dagster/column_schema": USERS_SCHEMA},
)
def slack_users(context: dg.AssetExecutionContext, slack: SlackSource) -> pd.DataFrame:
    api = slack.open_api()
    try:
        members = list_users(api, slack.page_limit)
    except SlackCallError as e:
        raise _slack_failure(e) from e
    rows = []
    for m in members:
        profile = m.get("profile") or {}
        rows.append(
            {
                "user_id": str(m["id"]),
                "name": str(m.get("name") or ""),
                "display_name": str(profile.get("display_name") or ""),
                "real_name": str(m.get("real_name") or profile.get("real_name") or ""),
                "title": str(profile.get("title") or ""),
                "is_bot": bool(m.get("is_bot", False)),
                "deleted": bool(m.get("deleted", False)),
                "tz": str(m.get("tz") or ""),
            }
        )
    frame = pd.DataFrame(rows, columns=column_names(USERS_SCHEMA))
    context.add_output_metadata(
        {
            "users": int((~frame["is_bot"]).sum()),
            "bots": int(frame["is_bot"].sum()),
            "deleted": int(frame["deleted"].sum()),
        }
    )
    return frame


@dg.asset(
    group_name="extract",
    kinds={"slack", "duckdb"},
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description=(
        "Every message and thread reply posted in the hour, keyed by (channel_id, ts), as the "
        "source returned it. Re-extracting an hour replaces it: edits and deletes reach the table."
    ),
    metadata={"partition_expr": "timestamp", "dagster/column_schema": RAW_MESSAGES_SCHEMA},
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
)
def raw_messages(
    context: dg.AssetExecutionContext, slack: SlackSource, slack_channels: pd.DataFrame
) -> pd.DataFrame:
    window = Window(*context.partition_time_window)
    selected = slack_channels.loc[slack_channels["selected"].astype(bool)]
    api = slack.open_api()
    extracted_at = datetime.now(UTC)
    try:
        result = extract_window(
            api,
            list(selected["channel_id"]),
            window,
            lookback=slack.lookback,
            page_limit=slack.page_limit,
        )
    except SlackCallError as e:
        raise _slack_failure(e) from e
    rows = [m.as_row(slack.kind, extracted_at) for m in result.messages]
    frame = pd.DataFrame(rows, columns=column_names(RAW_MESSAGES_SCHEMA))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["extracted_at"] = pd.to_datetime(frame["extracted_at"], utc=True)
    if result.skipped_channels:
        context.log.warning(
            "Skipped %d unreadable channel(s): %s",
            len(result.skipped_channels),
            json.dumps(result.skipped_channels),
        )
    lag = (extracted_at - window.end).total_seconds()
    context.add_output_metadata(
        {
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "messages": len(frame),
            "replies": int(frame["is_reply"].sum()),
            "channels_read": result.channels_read,
            "channels_skipped": len(result.skipped_channels),
            "skipped_channels": result.skipped_channels,
            "threads_fetched": result.threads_fetched,
            "old_threads_with_new_replies": result.moved_threads,
            "extraction_lag_seconds": round(lag, 1),
            **api.stats.as_metadata(),
        }
    )
    return frame
